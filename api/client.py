"""Export annotations from a training script: create -> wait -> download -> verify -> unzip.

Standard library only, so a training machine needs nothing but Python 3.9+: copy this one file
(`python client.py export …`) or run it from a checkout (`python -m api.client export …`).

    export NEXUS_URL=https://nexus.example.com NEXUS_TOKEN=nxs_…
    python -m api.client export 3 --format yolo_darknet --split 0.2 --shuffle --seed 7 -o data/
    python -m api.client export 3 --format coco --valid 0.1 --split-mode stratified \
        --label car --label person --rename car=vehicle --annotated-only -o data/

The folder given with -o receives the export's contents (train/, test/, manifest.json, …); the
path is printed on stdout, progress and errors go to stderr. Exit status: 0 done, 1 failed,
2 bad arguments. From Python:

    from api.client import NexusClient
    folder = NexusClient(url, token).export(3, "coco", {"split_ratio": 0.2}, "data/")
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import IO

ENDED = ("Finished", "Cancelled", "Errored")
TRANSIENT_STATUSES = (502, 503, 504)
CHUNK = 1 << 20


class NexusError(Exception):
    """An API error (code as the API names it) or a failure of a client step."""

    def __init__(self, code: str, message: str, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{message} [{code}]")
        self.code, self.message, self.status, self.retry_after = code, message, status, retry_after


class Progress:
    """A one-line bar on a terminal; on a log file, a line per 10% so logs stay short."""

    def __init__(self, out: IO[str] | None) -> None:
        self.out = out
        self.tty = bool(out is not None and getattr(out, "isatty", lambda: False)())
        self.last: tuple[str, int] | None = None

    def show(self, label: str, fraction: float, detail: str = "") -> None:
        if self.out is None:
            return
        percent = max(0, min(100, int(fraction * 100)))
        if self.tty:
            bar = "#" * (percent // 4) + "-" * (25 - percent // 4)
            self.out.write(f"\r{label:<11} [{bar}] {percent:3d}% {detail:<24}")
        elif self.last != (label, percent // 10):
            self.out.write(f"{label}: {percent}% {detail}".rstrip() + "\n")
        self.last = (label, percent // 10)
        self.out.flush()

    def end(self) -> None:
        if self.out is not None and self.tty and self.last is not None:
            self.out.write("\n")
            self.out.flush()
        self.last = None


class NexusClient:
    def __init__(self, url: str, token: str, *, poll_interval: float = 2.0,
                 timeout: float = 60.0, progress: IO[str] | None = sys.stderr,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.api = url.rstrip("/") + "/api/v1"
        self.token = token
        self.poll_interval = poll_interval
        self.timeout = timeout  # of one HTTP request
        self.progress = Progress(progress)
        self.sleep = sleep  # a seam: tests run the export here

    # --- HTTP -----------------------------------------------------------------------------------

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        """(status, JSON body) of an API call; path is relative to /api/v1 or a full URL."""
        url = path if path.startswith(("http://", "https://")) else self.api + path
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Accept": "application/json",
            **({"Content-Type": "application/json"} if data is not None else {})})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            raise _api_error(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            raise NexusError("connection_failed", f"Cannot reach {self.api}: {exc}") from None

    def _retrying(self, method: str, path: str, attempts: int = 5) -> dict:
        """A poll survives a restarting server or a dropped connection: a training run should
        not die of a blip."""
        for attempt in range(attempts):
            try:
                return self.call(method, path)[1]
            except NexusError as exc:
                transient = exc.code == "connection_failed" or exc.status in TRANSIENT_STATUSES
                if not transient or attempt == attempts - 1:
                    raise
                self.sleep(min(30.0, self.poll_interval * 2 ** attempt))
        raise AssertionError("unreachable")

    # --- the steps ------------------------------------------------------------------------------

    def create_export(self, dataset_id: int, format_id: str, options: dict | None = None,
                      *, max_wait: float = 600.0) -> dict:
        """The job (new, or the identical one already active). Waits out a 429."""
        waited = 0.0
        while True:
            try:
                return self.call("POST", f"/datasets/{dataset_id}/exports/",
                                 {"format": format_id, "options": options or {}})[1]
            except NexusError as exc:
                if exc.code != "too_many_exports" or waited >= max_wait:
                    raise
                delay = exc.retry_after or 30.0
                self._note(f"{exc.message} Retrying in {delay:g} s.")
                self.sleep(delay)
                waited += delay

    def wait(self, job: dict, *, max_wait: float | None = None) -> dict:
        """Poll until the job ends; returns it Finished, raises for Cancelled or Errored."""
        started = time.monotonic()
        while job["status"] not in ENDED:
            progress = job["progress"]
            self.progress.show(job["status"], progress["percent"] / 100,
                               f"{progress['done']}/{progress['total']} images"
                               if progress["total"] else "")
            if max_wait is not None and time.monotonic() - started > max_wait:
                self.progress.end()
                raise NexusError("timeout", f"Export {job['id']} is still {job['status']} "
                                            f"after {max_wait:g} s.")
            self.sleep(self.poll_interval)
            job = self._retrying("GET", f"/exports/{job['id']}/")
        if job["status"] == "Finished":
            self.progress.show("Finished", 1.0)
        self.progress.end()
        if job["status"] != "Finished":
            raise NexusError(job["status"].lower(), f"Export {job['id']} {job['status']}"
                             + (f": {job['error']}" if job.get("error") else "."))
        return job

    def download(self, job: dict, target: str | os.PathLike) -> Path:
        """Stream the zip to target and check it against the job's size and sha256."""
        if not job.get("download"):
            raise NexusError("no_download", f"Export {job['id']} has no download (expired?).")
        target = Path(target)
        # No Authorization header: the signed URL needs none, and it may redirect to object
        # storage, which must never see the token.
        request = urllib.request.Request(job["download"]["url"], method="GET")
        digest, size, expected = hashlib.sha256(), 0, job["file"]["size"] or 0
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response, \
                    open(target, "wb") as out:
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    digest.update(block)
                    size += len(block)
                    self.progress.show("Downloading", size / expected if expected else 1.0,
                                       f"{size / 1e6:.1f} MB")
        except urllib.error.HTTPError as exc:
            target.unlink(missing_ok=True)
            raise NexusError("download_failed", f"Download failed: HTTP {exc.code} "
                             f"{exc.read(500).decode('utf-8', 'replace').strip()}",
                             exc.code) from None
        finally:
            self.progress.end()
        if size != job["file"]["size"] or digest.hexdigest() != job["file"]["sha256"]:
            target.unlink(missing_ok=True)
            raise NexusError("checksum_mismatch", f"The download is corrupt: {size} bytes, "
                             f"sha256 {digest.hexdigest()}; expected {job['file']['size']} "
                             f"bytes, sha256 {job['file']['sha256']}.")
        return target

    def export(self, dataset_id: int, format_id: str, options: dict | None, output: str |
               os.PathLike, *, replace: bool = False, keep_zip: bool = False,
               max_wait: float | None = None) -> Path:
        """All the steps; returns the folder that holds the export."""
        output = Path(output).resolve()
        if _non_empty(output) and not replace:
            raise NexusError("output_exists", f"{output} exists and is not empty; choose "
                                              f"another folder or pass replace.")
        job = self.create_export(dataset_id, format_id, options)
        self._note(f"Export {job['id']} ({job['format']}): {job['status']}")
        job = self.wait(job, max_wait=max_wait)
        output.parent.mkdir(parents=True, exist_ok=True)
        zip_path = output.with_name(output.name + ".zip")
        self.download(job, zip_path)
        try:
            unzip_into(zip_path, output, replace=replace)
        finally:
            if not keep_zip:
                zip_path.unlink(missing_ok=True)
        return output

    def _note(self, text: str) -> None:
        if self.progress.out is not None:
            self.progress.out.write(text + "\n")
            self.progress.out.flush()


def _api_error(exc: urllib.error.HTTPError) -> NexusError:
    try:
        body = json.loads(exc.read())
        code, message = body["code"], body["message"]
    except (ValueError, KeyError, TypeError):
        code, message = "http_error", f"HTTP {exc.code} {exc.reason}"
    retry = exc.headers.get("Retry-After") if exc.headers else None
    return NexusError(code, message, exc.code,
                      float(retry) if retry and retry.isdigit() else None)


def _non_empty(folder: Path) -> bool:
    return folder.exists() and (not folder.is_dir() or any(folder.iterdir()))


def _member_path(name: str, strip: str) -> PurePosixPath:
    """The member's path inside the output folder; refuses anything that would land outside."""
    path = PurePosixPath(name[len(strip):])
    if path.is_absolute() or ".." in path.parts or "\\" in name or not path.parts:
        raise NexusError("unsafe_zip", f"Refusing to extract {name!r}.")
    return path


def unzip_into(zip_path: str | os.PathLike, output: str | os.PathLike, *,
               replace: bool = False) -> Path:
    """Extract the export's one top folder so that output/ holds its contents. Written to a
    temporary folder beside output and renamed, so output is never half-extracted."""
    output = Path(output)
    work = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = archive.namelist()
            tops = {name.split("/", 1)[0] for name in names}
            strip = f"{tops.pop()}/" if len(tops) == 1 and all("/" in n for n in names) else ""
            for info in archive.infolist():
                if info.is_dir():
                    continue
                relative = _member_path(info.filename, strip)
                target = work.joinpath(*relative.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, CHUNK)
        if output.exists():
            if not replace and _non_empty(output):
                raise NexusError("output_exists", f"{output} exists and is not empty.")
            if output.is_dir():
                shutil.rmtree(output)
            else:
                output.unlink()
        os.replace(work, output)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return output


# --- command line -------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m api.client",
                                     description="Nexus API client (stdlib only).")
    parser.add_argument("--url", default=os.environ.get("NEXUS_URL", "http://127.0.0.1:8000"),
                        help="the Nexus server (default: $NEXUS_URL)")
    parser.add_argument("--token", default=os.environ.get("NEXUS_TOKEN"),
                        help="API token (default: $NEXUS_TOKEN, which keeps it out of ps)")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="export a dataset into a folder")
    export.add_argument("dataset", type=int, help="dataset id (GET /api/v1/datasets/)")
    export.add_argument("--format", required=True, help="format id (the formats command)")
    export.add_argument("-o", "--output", required=True, help="folder to unzip into")
    export.add_argument("--split", type=float, help="share of images in test/ (0-1)")
    export.add_argument("--valid", type=float, help="share of images in valid/ (0-1)")
    export.add_argument("--split-mode", choices=("random", "stratified", "stable", "keep"),
                        help="random (default), stratified, stable or keep")
    export.add_argument("--label", dest="labels", action="append", metavar="NAME",
                        help="a label to export (repeat; default: all the format carries)")
    export.add_argument("--rename", action="append", metavar="OLD=NEW",
                        help="rename a label (repeat; two labels renamed alike merge)")
    export.add_argument("--annotated-only", action="store_true", default=None,
                        help="leave out images with nothing to write")
    export.add_argument("--shuffle", action="store_true", default=None)
    export.add_argument("--seed", type=int)
    export.add_argument("--normalized", action="store_true", default=None,
                        help="normalized coordinates (default: the format's convention)")
    export.add_argument("--absolute", dest="normalized", action="store_false")
    export.add_argument("--no-images", dest="include_images", action="store_false",
                        default=None, help="annotation files only")
    export.add_argument("--replace", action="store_true", help="replace a non-empty output")
    export.add_argument("--keep-zip", action="store_true", help="keep OUTPUT.zip as well")
    export.add_argument("--max-wait", type=float, help="give up after this many seconds")
    export.add_argument("--poll", type=float, default=2.0, help="seconds between polls")
    commands.add_parser("formats", help="list the export formats")
    commands.add_parser("datasets", help="list your datasets")
    return parser


def _renames(pairs: list[str] | None) -> dict[str, str] | None:
    """["car=vehicle"] -> {"car": "vehicle"} (the API's `rename` object)."""
    if not pairs:
        return None
    renames = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise SystemExit(f"--rename wants OLD=NEW, got {pair!r}")
        renames[old.strip()] = new.strip()
    return renames


def main(argv: list[str] | None = None, *, sleep: Callable[[float], None] = time.sleep) -> int:
    args = _parser().parse_args(argv)
    if not args.token:
        print("No token: set NEXUS_TOKEN (create one on your Nexus account page).",
              file=sys.stderr)
        return 2
    client = NexusClient(args.url, args.token, poll_interval=getattr(args, "poll", 2.0),
                         sleep=sleep)
    try:
        if args.command == "formats":
            for spec in client.call("GET", "/formats/")[1]["results"]:
                print(f"{spec['id']:<26} {spec['family']:<15} {spec['name']}")
        elif args.command == "datasets":
            page: str | None = "/datasets/?page_size=100"
            while page:
                body = client.call("GET", page)[1]
                for dataset in body["results"]:
                    print(f"{dataset['id']:>6}  {dataset['name']}  ({dataset['image_count']} "
                          f"images, {dataset['annotation_count']} annotations)")
                page = body["next"]
        else:
            options = {name: value for name, value in (
                ("normalized", args.normalized), ("shuffle", args.shuffle), ("seed", args.seed),
                ("split_ratio", args.split), ("include_images", args.include_images),
                ("valid_ratio", args.valid), ("split_mode", args.split_mode),
                ("labels", args.labels), ("rename", _renames(args.rename)),
                ("annotated_only", args.annotated_only))
                if value is not None}
            folder = client.export(args.dataset, args.format, options, args.output,
                                   replace=args.replace, keep_zip=args.keep_zip,
                                   max_wait=args.max_wait)
            print(folder)
    except NexusError as exc:
        print(f"error: {exc.message} [{exc.code}]", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
