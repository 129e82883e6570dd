"""The import's practical floor: the benchmark's COCO JSON written into the same annotations table
by the tightest plain sqlite3 code (no Django, no checks, no preview, no staging).

    .venv/bin/python benchmarks/import_floor.py --size 100k [--repeat 3]

Each run takes a fresh copy of the database (as `import_bench.py` makes it: the dataset's
annotations and labels deleted, this checkout's schema) and, as one whole process: parses the
file whole with orjson, maps file names to image ids, creates the labels, then INSERTs every box
with 100-row statements in one transaction, foreign-key checks off. It prints that process's wall
time, its parse and insert parts, and the insert into the same table with its two indexes dropped
(what the indexes cost). Compare with `import_bench.py` on the same size: the ratio is what the
import's checks, preview and all-or-nothing staging cost on top of parsing and writing.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from import_bench import COCO_FILES, OUT, migrated_copy  # noqa: E402

ROWS_PER_STATEMENT = 100


def write(database: Path, coco: Path, dataset_id: int, drop_indexes: bool) -> dict:
    import orjson

    started = time.perf_counter()
    with open(coco, "rb") as handle:
        document = orjson.loads(handle.read())
    parsed = time.perf_counter()
    db = sqlite3.connect(database, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=OFF")
    images = dict(db.execute("SELECT original_name, id FROM datasets_image WHERE dataset_id = ?",
                             (dataset_id,)))
    image_ids = {image["id"]: images[image["file_name"]] for image in document["images"]}
    db.execute("BEGIN IMMEDIATE")
    if drop_indexes:
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND "
                                  "tbl_name = 'annotations_annotation' AND sql IS NOT NULL"
                                  ).fetchall():
            db.execute(f'DROP INDEX "{name}"')
    label_ids = {}
    for position, category in enumerate(document["categories"]):
        cursor = db.execute("INSERT INTO datasets_label (dataset_id, name, position, color) "
                            "VALUES (?, ?, ?, '#000000')", (dataset_id, category["name"],
                                                            position))
        label_ids[category["id"]] = cursor.lastrowid
    values = []
    for a in document["annotations"]:
        x, y, w, h = a["bbox"]
        values += (image_ids[a["image_id"]], label_ids[a["category_id"]], x, y, x + w, y + h)
    width = 6 * ROWS_PER_STATEMENT
    statement = ("INSERT INTO annotations_annotation (image_id, label_id, kind, box_xmin, "
                 "box_ymin, box_xmax, box_ymax, geometry) VALUES "
                 + ", ".join(["(?, ?, 'box', ?, ?, ?, ?, NULL)"] * ROWS_PER_STATEMENT))
    whole = len(values) - len(values) % width
    inserting = time.perf_counter()
    db.executemany(statement, (values[s:s + width] for s in range(0, whole, width)))
    rest = (len(values) - whole) // 6
    if rest:
        db.execute(statement.rsplit(" VALUES ", 1)[0] + " VALUES "
                   + ", ".join(["(?, ?, 'box', ?, ?, ?, ?, NULL)"] * rest), values[whole:])
    db.execute("ROLLBACK" if drop_indexes else "COMMIT")
    done = time.perf_counter()
    return {"parse": parsed - started, "insert": done - inserting, "rows": len(values) // 6}


def main() -> None:
    parser = argparse.ArgumentParser(description="the import's floor: orjson + plain sqlite3")
    parser.add_argument("--size", default="10k")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=3, metavar=("DATABASE", "DATASET", "DROP"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    coco = OUT / args.size / "peers" / "boxes" / "annotations" / COCO_FILES["boxes"]
    if args.child:
        figures = write(Path(args.child[0]), coco, int(args.child[1]), args.child[2] == "1")
        print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in figures.items()))
        return
    walls = []
    for _ in range(args.repeat):
        for drop in ("0", "1"):
            target, dataset_id, _ = migrated_copy(args.size, "boxes")
            started = time.perf_counter()
            out = subprocess.run([sys.executable, __file__, "--size", args.size, "--child",
                                  str(target / "nexus.sqlite3"), str(dataset_id), drop],
                                 check=True, capture_output=True, text=True).stdout.strip()
            wall = time.perf_counter() - started
            if drop == "0":
                walls.append(wall)
            print(f"  {'indexes dropped' if drop == '1' else 'whole process'}: {wall:.2f} s; "
                  f"{out}", flush=True)
    print(f"import floor {args.size} ({coco.stat().st_size / 1e6:.1f} MB): median "
          f"{statistics.median(walls):.2f} s")


if __name__ == "__main__":
    main()
