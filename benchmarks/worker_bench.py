"""The figure a user sees: from the POST that creates an export to the job Finished and its zip
downloaded, through a real worker (`manage.py qcluster`, started once for the whole run), per
format, with and without images; and the download's throughput, whole and resumed with a Range
request from the middle.

    .venv/bin/python benchmarks/worker_bench.py [--size 10k] [--formats coco,yolo_darknet]
                                                [--repeat 3] [--no-images-only]

The web side is Django's test client in this process (the real views, middleware and database,
no network); the worker is a separate process polling the same SQLite database (django-q's ORM
broker, 0.2 s poll), as `bin/start` runs it. Per format it prints the medians of: POST -> job
Finished ("ready"), the whole download, and the MB/s served whole and resumed. The data is the
benchmark database of `benchmarks/out/<size>/` (run.py or generate.py makes it).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))
from run import DEFAULT_FORMATS, FORMATS, nexus_env  # noqa: E402

POLL = 0.01
_runs = iter(range(1, 1 << 30))  # a new seed per POST: identical options would reuse a job


def setup(size: str) -> dict:
    os.environ.update(nexus_env(OUT / size))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    return json.loads((OUT / size / "datasets.json").read_text())


def start_worker(size: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT,
                            env=nexus_env(OUT / size), stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop_worker(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def one_export(client, dataset_id: int, fmt: str, images: bool) -> dict:
    from django.urls import reverse

    from exports import storage
    from exports.models import ExportJob

    payload = {"format": fmt, "split_ratio": "0", "seed": str(next(_runs)),
               **({"include_images": "on"} if images else {})}
    started = time.perf_counter()
    response = client.post(reverse("exports:create", args=[dataset_id]), payload)
    if response.status_code != 201:
        raise SystemExit(f"{fmt}: POST answered {response.status_code}")
    job = ExportJob.objects.filter(dataset_id=dataset_id).order_by("-created_at").first()
    while job.status not in ("finished", "errored", "cancelled"):
        time.sleep(POLL)
        job.refresh_from_db()
    ready = time.perf_counter() - started
    if job.status != "finished":
        raise SystemExit(f"{fmt}: the job {job.status}: {job.error}")
    url = reverse("exports:download", args=[job.pk])
    began = time.perf_counter()
    size = sum(len(block) for block in client.get(url).streaming_content)
    whole = time.perf_counter() - began
    half = size // 2
    began = time.perf_counter()
    rest = client.get(url, HTTP_RANGE=f"bytes={half}-")
    resumed_bytes = sum(len(block) for block in rest.streaming_content)
    resumed = time.perf_counter() - began
    assert rest.status_code == 206 and resumed_bytes == size - half
    storage.delete_tree(job.file_path.rsplit("/", 1)[0])  # keep the disk to one zip at a time
    return {"ready": ready, "download": whole, "total": ready + whole, "bytes": size,
            "whole_mb_s": size / whole / 1e6, "resumed_mb_s": resumed_bytes / resumed / 1e6}


def settle(owner, limit: float = 600) -> tuple[int, float]:
    """Wait until none of the owner's exports is queued. The web probe (run.py) leaves queued
    jobs on the benchmark dataset, and the per-user fair queue runs a user's older jobs first:
    timed before they are done, the first formats' figures would include them."""
    from exports.models import ExportJob

    queued = ExportJob.objects.filter(owner=owner, status="queued")
    started, found = time.perf_counter(), queued.count()
    while queued.exists():
        if time.perf_counter() - started > limit:
            raise SystemExit(f"{queued.count()} queued exports did not run in {limit:.0f} s")
        time.sleep(0.2)
    return found, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="10k")
    parser.add_argument("--formats", default=",".join(DEFAULT_FORMATS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-images-only", action="store_true")
    args = parser.parse_args()
    info = setup(args.size)
    from django.contrib.auth import get_user_model
    from django.test import Client

    from datasets.models import Dataset

    worker = start_worker(args.size, OUT / args.size / "worker-bench.log")
    results = {}
    try:
        client = Client(SERVER_NAME="localhost")
        owner = get_user_model().objects.get(pk=Dataset.objects.get(
            pk=info["boxes"]["id"]).owner_id)
        client.force_login(owner)
        one_export(client, info["boxes"]["id"], "yolo_darknet", False)  # the worker is up
        found, waited = settle(owner)
        if found:
            print(f"waited {waited:.1f} s for {found} queued exports of the same user to run")
        for fmt in args.formats.split(","):
            kind = FORMATS[fmt]
            if kind not in info:
                print(f"{fmt}: no {kind} dataset in {args.size} (generate.py --kinds)")
                continue
            for images in ((True,) if fmt.endswith("tfrecord") else
                           (False,) if args.no_images_only else (False, True)):
                runs = [one_export(client, info[kind]["id"], fmt, images)
                        for _ in range(args.repeat)]
                row = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
                results[f"{fmt}{' +images' if images else ''}"] = row
                print(f"{fmt:24} {'images' if images else 'annotations':11} ready "
                      f"{row['ready']:6.2f} s  download {row['download']:5.2f} s  "
                      f"{row['bytes'] / 1e6:7.1f} MB  {row['whole_mb_s']:6.0f} MB/s whole, "
                      f"{row['resumed_mb_s']:6.0f} MB/s resumed", flush=True)
    finally:
        stop_worker(worker)
    (OUT / f"worker-{args.size}.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
