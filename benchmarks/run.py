"""Benchmark the exports against the peers: one command, whole-process timings.

    .venv/bin/python benchmarks/run.py                       # 10k images / ~100k annotations
    .venv/bin/python benchmarks/run.py --sizes 10k,100k      # and 100k images / ~1M boxes
    .venv/bin/python benchmarks/run.py --formats coco,yolo_darknet --repeat 5

For each size it generates the data once (benchmarks/generate.py, its own database under
benchmarks/out/<size>/), then times, as separate processes and median of --repeat runs:

- every export format through `manage.py export_annotations ... --no-images` (Django start-up,
  job row, claim, publish and copy included), TFRecord formats with their images embedded;
- the floor (benchmarks/floor.py: a tight numpy + zipfile COCO -> YOLO writer);
- exports with images (`--images-formats`, coco and yolo_darknet by default) against their floor,
  a stored `zipfile` copy of the same files (benchmarks/images_floor.py), run for run;
- the peers, when installed (the `bench` extra, or the separate venv that
  benchmarks/setup-peers makes in benchmarks/out/peers-venv; --peer-python chooses): Datumaro and globox converting the
  same COCO JSON to the same format, in their own processes (benchmarks/peers.py);
- the COCO reader's parse + validate time on the same COCO file (the import figure);
- the web: Current Jobs with 200 jobs and the Annotations tab's first page (Django test client).

It prints per format and size: wall seconds, images/s, annotations/s, peak RSS and output size,
the peers' figures and Nexus' speed-up over the fastest peer; the whole result also goes to
benchmarks/out/results-<size>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
PACKAGES = ("nexus", "annotations", "datasets", "exports", "jobs", "api")  # bytecode compiled first
SIZES = {"1k": (1_000, 10), "10k": (10_000, 10), "100k": (100_000, 10), "1m": (1_000_000, 10)}
# format -> dataset kind it exports
FORMATS = {
    "coco": "boxes", "csv_fourcorner": "boxes", "csv_widthheight": "boxes",
    "pascal_voc": "boxes", "yolo_darknet": "boxes", "yolo_keras_pytorch": "boxes",
    "createml": "boxes", "tfrecord": "boxes",
    "polygon_coco": "polygons", "polygon_single": "polygons", "polygon_tfrecord": "polygons",
    "keypoints_coco": "keypoints", "keypoints_tfrecord": "keypoints",
    "csv_classification": "tags", "classification_tfrecord": "tags",
    "yolo_segment": "polygons", "yolo_pose": "keypoints", "folder_classification": "tags",
}
PEERS = ("datumaro", "globox")
GLOBOX_FORMATS = ("yolo_darknet", "coco", "pascal_voc", "polygon_single", "csv_fourcorner")
DATUMARO_FORMATS = ("yolo_darknet", "coco", "pascal_voc", "polygon_single", "tfrecord",
                    "polygon_coco", "keypoints_coco", "csv_classification")
DEFAULT_FORMATS = [f for f in FORMATS if not f.endswith("tfrecord")] + ["tfrecord"]


def timed(command: list[str], env: dict | None = None, cwd: Path = ROOT) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in KiB, exit code) of one whole process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    process.stderr and process.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 3):
        print(f"    ! {' '.join(command[-4:])} exited {code}: {stderr.strip()[-400:]}",
              file=sys.stderr)
    return wall, usage.ru_maxrss, code


def median_run(command: list[str], repeat: int, env: dict | None = None,
               before=None, cwd: Path = ROOT) -> dict | None:
    walls, peaks = [], []
    for _ in range(repeat):
        if before:
            before()
        try:
            wall, peak, code = timed(command, env, cwd)
        except OSError as exc:
            return {"error": str(exc)}
        if code == 3:
            return None  # the tool cannot write that here
        if code != 0:
            return {"error": code}
        walls.append(wall)
        peaks.append(peak)
    return {"seconds": round(statistics.median(walls), 3), "runs": [round(w, 3) for w in walls],
            "peak_rss_mb": round(max(peaks) / 1024, 1)}


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def nexus_env(out: Path) -> dict:
    env = dict(os.environ, NEXUS_VAR_DIR=str(out), NEXUS_DEBUG="0",
               DJANGO_SETTINGS_MODULE="nexus.settings.dev", TF_CPP_MIN_LOG_LEVEL="3",
               TF_ENABLE_ONEDNN_OPTS="0")
    env.pop("DATABASE_URL", None)  # always the benchmark's own SQLite database
    return env


def ensure_data(size: str, kinds: set[str], links: bool) -> dict:
    n_images, per_image = SIZES[size]
    out = OUT / size
    info_path = out / "datasets.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    missing = sorted(k for k in kinds if k not in info)
    if missing:
        print(f"generating {size}: {', '.join(missing)}", flush=True)
        command = [sys.executable, str(HERE / "generate.py"), "--images", str(n_images),
                   "--per-image", str(per_image), "--kinds", ",".join(missing), "--out", str(out)]
        subprocess.run(command + (["--links"] if links else []), check=True, cwd=ROOT)
        info = json.loads(info_path.read_text())
    return info


def find_peer_python(given: str | None) -> str | None:
    candidates = [given] if given else [str(OUT / "peers-venv" / "bin" / "python"),
                                        sys.executable]
    for python in candidates:
        if python and Path(python).exists() and subprocess.run(
                [python, "-c", "import globox"], capture_output=True).returncode == 0:
            return python
    return None


def bench_size(size: str, args) -> dict:
    formats = args.formats
    kinds = {FORMATS[f] for f in formats}
    info = ensure_data(size, kinds, links=any(f.endswith("tfrecord") for f in formats))
    out = OUT / size
    env = nexus_env(out)
    repo = Path(args.repo).resolve()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, cwd=repo,
                   check=True)
    # Bytecode for every module, as a deployment has it: with PYTHONDONTWRITEBYTECODE set (or a
    # fresh checkout) each run would otherwise compile the edited modules again (~20-30 ms).
    subprocess.run([sys.executable, "-m", "compileall", "-q", *PACKAGES], cwd=repo,
                   check=True, stdout=subprocess.DEVNULL)
    results: dict = {"size": size, "repo": str(repo), "formats": {}, "datasets": info}
    scratch = out / "scratch"
    scratch.mkdir(exist_ok=True)
    peer_python = find_peer_python(args.peer_python) if not args.no_peers else None
    run_peers = peer_python and (size == args.sizes[0] or args.peers_at_all_sizes)

    if "boxes" in kinds:  # the floor converts the box data
        coco_boxes = out / "peers" / "boxes" / "annotations" / "instances_default.json"
        floor_zip = scratch / "floor.zip"
        results["floor"] = median_run([sys.executable, str(HERE / "floor.py"), str(coco_boxes),
                                       str(floor_zip)], args.repeat)
        print(f"[{size}] floor (numpy + zipfile COCO -> YOLO): {results['floor']['seconds']} s",
              flush=True)

    for fmt in formats:
        kind = FORMATS[fmt]
        data = info[kind]
        target = scratch / f"{fmt}.zip"
        command = [sys.executable, "manage.py", "export_annotations", str(data["id"]),
                   "--format", fmt, "-o", str(target)]
        if not fmt.endswith("tfrecord"):
            command.append("--no-images")
        row = median_run(command, args.repeat, env, cwd=repo) or {}
        if "seconds" in row:
            row.update(output_bytes=size_of(target),
                       images_per_s=round(data["images"] / row["seconds"]),
                       annotations_per_s=round(data["annotations"] / row["seconds"]))
        if run_peers:
            row["peers"] = peer_figures(fmt, kind, out, scratch, peer_python, args)
            fastest = min((p["seconds"] for p in row["peers"].values()
                           if p and "seconds" in p), default=None)
            if fastest and "seconds" in row:
                row["speedup_vs_fastest_peer"] = round(fastest / row["seconds"], 2)
        results["formats"][fmt] = row
        print_row(size, fmt, row)

    for fmt in args.images_formats:
        if fmt in formats:
            results.setdefault("images_vs_floor", {})[fmt] = images_vs_floor(
                size, fmt, info[FORMATS[fmt]]["id"], env, repo, scratch, args.repeat)

    if not args.no_import:
        results["import_coco_reader"] = probe("import", coco_boxes, env)
        print(f"[{size}] import (COCO reader parse + validate, in process): "
              f"{results['import_coco_reader']}", flush=True)
    if not args.no_web:
        results["web"] = probe("web", out, env)
        print(f"[{size}] web: {results['web']}", flush=True)
    shutil.rmtree(scratch, ignore_errors=True)
    name = f"results-{size}{'-' + args.label if args.label else ''}.json"
    (OUT / name).write_text(json.dumps(results, indent=2) + "\n")
    return results


def images_vs_floor(size: str, fmt: str, dataset_id: int, env: dict, repo: Path,
                    scratch: Path, repeat: int) -> dict:
    """The export with images and a stored copy of the same files, alternately (a loaded
    machine then slows both alike): medians and the median of the per-run ratios."""
    target, floor_zip, folder = (scratch / f"{fmt}-images.zip", scratch / f"{fmt}-floor.zip",
                                 scratch / f"{fmt}-files")
    export = [sys.executable, "manage.py", "export_annotations", str(dataset_id), "--format", fmt,
              "-o", str(target)]  # images included: the command's default
    floor = [sys.executable, str(HERE / "images_floor.py"), "copy", str(folder), str(floor_zip)]
    subprocess.run(export, env=env, cwd=repo, check=True, stdout=subprocess.DEVNULL)
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([sys.executable, str(HERE / "images_floor.py"), "prepare", str(target),
                    str(folder)], check=True)
    exports, floors = [], []
    for _ in range(repeat):
        exports.append(timed(export, env, repo)[0])
        floors.append(timed(floor)[0])
    row = {"export_seconds": round(statistics.median(exports), 3),
           "floor_seconds": round(statistics.median(floors), 3),
           "ratio": round(statistics.median(e / f for e, f in zip(exports, floors)), 2),
           "export_runs": [round(w, 3) for w in exports], "floor_runs": [round(w, 3) for w in floors],
           "zip_bytes": size_of(target), "members": len((folder / "members.txt").read_text()
                                                        .splitlines())}
    print(f"[{size}] {fmt} with images {row['export_seconds']} s, stored copy of the same "
          f"{row['members']} files {row['floor_seconds']} s: {row['ratio']}x", flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    return row


def peer_figures(fmt: str, kind: str, out: Path, scratch: Path, python: str, args) -> dict:
    figures = {}
    root = out / "peers" / kind
    for peer in PEERS:
        if fmt not in (GLOBOX_FORMATS if peer == "globox" else DATUMARO_FORMATS):
            continue
        if peer == "globox" and kind != "boxes":
            continue
        target = scratch / f"{peer}-{fmt}"
        source = root / "annotations" / "instances_default.json" if peer == "globox" else root
        command = [python, str(HERE / "peers.py"), peer, fmt, str(source), str(target)]
        if fmt.endswith("tfrecord"):
            command.append("--with-images")
        row = median_run(command, args.peer_repeat,
                         before=lambda t=target: shutil.rmtree(t, ignore_errors=True))
        if row and "seconds" in row:
            row["output_bytes"] = size_of(target)
        figures[peer] = row
    return figures


def probe(what: str, where: Path, env: dict) -> dict:
    done = subprocess.run([sys.executable, str(HERE / "probes.py"), what, str(where)],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-300:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_row(size: str, fmt: str, row: dict) -> None:
    if "seconds" not in row:
        print(f"[{size}] {fmt:24} failed: {row}", flush=True)
        return
    text = (f"[{size}] {fmt:24} {row['seconds']:7.2f} s  {row['images_per_s']:>9,} img/s  "
            f"{row['annotations_per_s']:>10,} ann/s  {row['peak_rss_mb']:7.1f} MB  "
            f"{row['output_bytes'] / 1e6:8.2f} MB out")
    for peer, figure in (row.get("peers") or {}).items():
        shown = "n/a" if not figure else (f"{figure['seconds']:.2f} s {figure['peak_rss_mb']:.0f} MB"
                                          if "seconds" in figure else "failed")
        text += f" | {peer} {shown}"
    if "speedup_vs_fastest_peer" in row:
        text += f" | x{row['speedup_vs_fastest_peer']}"
    print(text, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="Nexus export benchmark")
    parser.add_argument("--sizes", default="10k", help=f"comma-separated, of {', '.join(SIZES)}")
    parser.add_argument("--formats", default=",".join(DEFAULT_FORMATS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--peer-repeat", type=int, default=3)
    parser.add_argument("--peer-python", help="a Python with datumaro and/or globox")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--peers-at-all-sizes", action="store_true",
                        help="peers hold everything in memory: by default only the first size")
    parser.add_argument("--images-formats", default="coco,yolo_darknet",
                        help="formats timed with images against a stored copy of the same files "
                             "('' for none)")
    parser.add_argument("--no-web", action="store_true")
    parser.add_argument("--no-import", action="store_true")
    parser.add_argument("--repo", default=str(ROOT),
                        help="time the exports of another checkout (e.g. the commit before)")
    parser.add_argument("--label", default="", help="suffix of the results file")
    args = parser.parse_args()
    args.sizes = args.sizes.split(",")
    args.formats = args.formats.split(",")
    args.images_formats = [f for f in args.images_formats.split(",") if f]
    unknown = [f for f in args.formats if f not in FORMATS] + \
        [s for s in args.sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M')}", flush=True)
    for size in args.sizes:
        bench_size(size, args)


if __name__ == "__main__":
    main()
