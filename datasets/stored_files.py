"""Every file stored under a prefix of a Django storage: object stores have no folders to remove
or list in one call, so uploads and exports delete and sweep file by file."""

from __future__ import annotations

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
