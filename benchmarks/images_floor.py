"""The floor for an export with images: the same files, read from disk and written into a zip
stored (no recompression), in the export's member order, as one whole process.

    .venv/bin/python benchmarks/images_floor.py prepare <export.zip> <folder>   # once, untimed
    .venv/bin/python benchmarks/images_floor.py copy <folder> <target.zip>      # the floor

`prepare` extracts a real export (images and annotation files) into `<folder>` and lists its
members in `<folder>/members.txt`; `copy` writes each of them with
`ZipFile.write(..., compress_type=ZIP_STORED)`: the cost of reading, CRC-ing and writing the
bytes of every file the export holds, without deciding what they contain. `run.py` times it
against the export it came from, run for run.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

MEMBERS = "members.txt"


def prepare(export: Path, folder: Path) -> None:
    files = folder / "files"
    with zipfile.ZipFile(export) as archive:
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
        archive.extractall(files, members=names)
    (folder / MEMBERS).write_text("".join(f"{name}\n" for name in names))


def copy(folder: Path, target: Path) -> None:
    files = folder / "files"
    names = (folder / MEMBERS).read_text().splitlines()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for name in names:
            archive.write(files / name, name)
    print(len(names), target.stat().st_size)


def main() -> None:
    step, first, second = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    if step == "prepare":
        prepare(first, second)
    elif step == "copy":
        copy(first, second)
    else:
        sys.exit(f"unknown step {step!r}: prepare or copy")


if __name__ == "__main__":
    main()
