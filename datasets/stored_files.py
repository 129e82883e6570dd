"""Every file stored under a prefix of a Django storage: object stores have no folders to remove
or list in one call, so uploads and exports delete and sweep file by file. And the sweep of a
local work folder (upload folders, export attempts' files)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from django.core.files.storage import Storage


def stored_files(storage: Storage, prefix: str) -> list[str]:
    """The names of every file under `prefix` (none when the prefix does not exist)."""
    try:
        folders, files = storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return []
    names = [f"{prefix}/{name}" for name in files]
    for folder in folders:
        names += stored_files(storage, f"{prefix}/{folder}")
    return names


def sweep_local_folder(folder: Path, keep: Callable[[Path], bool]) -> int:
    """Remove each entry of `folder` (a file or a whole folder) that `keep` does not keep;
    returns how many were removed."""
    swept = 0
    for entry in folder.iterdir():
        if keep(entry):
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        swept += 1
    return swept
