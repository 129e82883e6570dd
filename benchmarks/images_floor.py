"""The floor for exports with images: a tight `zipfile` copy of the same image files, stored
(no recompression), under the names an export gives them, as one whole process.

    .venv/bin/python benchmarks/images_floor.py benchmarks/out/10k <dataset id> <target.zip>

The image rows are read with sqlite3 (no Django start-up), each file is copied with
`ZipFile.write(..., compress_type=ZIP_STORED)`: the cost of reading, CRC-ing and writing the
bytes, which an export including images must pay on top of its annotations.
"""

from __future__ import annotations

import sqlite3
import sys
import zipfile
from pathlib import Path


def main() -> None:
    out, dataset_id, target = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    with sqlite3.connect(out / "nexus.sqlite3") as db:
        rows = db.execute("SELECT original_name, file FROM datasets_image WHERE dataset_id = ? "
                          "ORDER BY position, id", (dataset_id,)).fetchall()
    media = out / "media"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for name, stored in rows:
            archive.write(media / stored, f"export/images/{name}")
    print(len(rows), Path(target).stat().st_size)


if __name__ == "__main__":
    main()
