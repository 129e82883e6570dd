"""The import figure: the benchmark's COCO JSON into an empty dataset with the same images, as one
whole process (`manage.py import_annotations <dataset> <file> --yes`: read, validate, match,
clean, plan, write the rows in one transaction).

    .venv/bin/python benchmarks/import_bench.py --size 10k [--repeat 3] [--kind boxes]
    .venv/bin/python benchmarks/import_bench.py --size 10k --format yolo_darknet

Other formats than COCO import the dataset's own export in that format (`export_annotations
--no-images`, made once, untimed, kept in `benchmarks/out/<size>/import-files/`).

Each run starts from a fresh copy of `benchmarks/out/<size>/nexus.sqlite3` in
`benchmarks/out/<size>-import/` whose `bench-<kind>` dataset has had its annotations and labels
deleted (the images stay), so every repeat imports into the same empty dataset. The copy is made
outside the timed process, and migrated to this checkout's schema. Prints wall seconds, peak RSS and the rows written.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
COCO_FILES = {"boxes": "instances_default.json", "polygons": "instances_default.json",
              "keypoints": "person_keypoints_default.json"}


def fresh_copy(size: str, kind: str) -> tuple[Path, int]:
    source = OUT / size
    target = OUT / f"{size}-import"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    with sqlite3.connect(source / "nexus.sqlite3") as db:  # a consistent copy, WAL included
        with sqlite3.connect(target / "nexus.sqlite3") as copy:
            db.backup(copy)
    info = json.loads((source / "datasets.json").read_text())
    dataset_id = info[kind]["id"]
    with sqlite3.connect(target / "nexus.sqlite3") as db:
        db.execute("DELETE FROM annotations_annotation WHERE image_id IN "
                   "(SELECT id FROM datasets_image WHERE dataset_id = ?)", (dataset_id,))
        db.execute("DELETE FROM datasets_skeleton WHERE dataset_id = ?", (dataset_id,))
        db.execute("DELETE FROM datasets_label WHERE dataset_id = ?", (dataset_id,))
    media = target / "media"
    if not media.exists():
        media.symlink_to((source / "media").resolve())
    return target, dataset_id


def migrated_copy(size: str, kind: str) -> tuple[Path, int, dict[str, str]]:
    """fresh_copy, given this checkout's schema (indexes change what an insert costs), and the
    environment that points manage.py at it."""
    target, dataset_id = fresh_copy(size, kind)
    env = dict(os.environ, NEXUS_VAR_DIR=str(target), NEXUS_DEBUG="0",
               DJANGO_SETTINGS_MODULE="nexus.settings.dev")
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
                   cwd=ROOT, env=env, check=True)
    return target, dataset_id, env


def exported(size: str, kind: str, fmt: str) -> Path:
    """The benchmark dataset exported in `fmt` (annotations only), made once."""
    target = OUT / size / "import-files" / f"{kind}-{fmt}.zip"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        info = json.loads((OUT / size / "datasets.json").read_text())
        env = dict(os.environ, NEXUS_VAR_DIR=str(OUT / size), NEXUS_DEBUG="0",
                   DJANGO_SETTINGS_MODULE="nexus.settings.dev")
        env.pop("DATABASE_URL", None)
        subprocess.run([sys.executable, "manage.py", "export_annotations", str(info[kind]["id"]),
                        "--format", fmt, "--no-images", "-o", str(target)], cwd=ROOT, env=env,
                       check=True, stdout=subprocess.DEVNULL)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description="Nexus import benchmark")
    parser.add_argument("--size", default="10k")
    parser.add_argument("--kind", default="boxes", choices=sorted(COCO_FILES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--format", default="coco",
                        help="coco (the benchmark's COCO JSON), or a format whose export is read")
    args = parser.parse_args()
    coco = OUT / args.size / "peers" / args.kind / "annotations" / COCO_FILES[args.kind]
    if args.format != "coco":
        coco = exported(args.size, args.kind, args.format)
    walls, peaks = [], []
    for _ in range(args.repeat):
        target, dataset_id, env = migrated_copy(args.size, args.kind)
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "manage.py", "import_annotations",
                                    str(dataset_id), str(coco), "--yes",
                                    *(["--format", args.format] if args.format != "coco" else [])],
                                   cwd=ROOT, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        stdout, stderr = process.stdout.read().decode(), process.stderr.read().decode()
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"import failed: {stderr[-2000:]}")
        with sqlite3.connect(target / "nexus.sqlite3") as db:
            rows = db.execute("SELECT count(*) FROM annotations_annotation a JOIN datasets_image i"
                              " ON a.image_id = i.id WHERE i.dataset_id = ?",
                              (dataset_id,)).fetchone()[0]
        walls.append(wall)
        peaks.append(usage.ru_maxrss / 1024)
        print(f"  {wall:.2f} s, peak RSS {usage.ru_maxrss / 1024:.0f} MB, {rows} rows; "
              f"{stdout.strip().splitlines()[-1]}", flush=True)
    print(f"import {args.size} {args.kind} {args.format} ({coco.stat().st_size / 1e6:.1f} MB): "
          f"median "
          f"{statistics.median(walls):.2f} s, peak RSS {max(peaks):.0f} MB")


if __name__ == "__main__":
    main()
