"""Where published export zips live: local disk by default, S3-compatible storage by setting.

Work in progress is always on the worker's local disk (exports/tmp); only a complete, checksummed
zip is published here, under `<job id>/<attempt token>/<name>.zip`, so a losing duplicate attempt
only ever deletes its own object.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import IO

from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages

from datasets.stored_files import stored_files


def export_storage() -> Storage:
    return storages["exports"]


def is_local() -> bool:
    return isinstance(export_storage(), FileSystemStorage)


def publish(tmp: Path, name: str) -> None:
    storage = export_storage()
    if is_local():
        final = Path(storage.path(name))
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)  # atomic: the zip appears whole or not at all
        return
    with open(tmp, "rb") as handle:
        saved = storage.save(name, File(handle))
    if saved != name:
        raise OSError(f"object storage saved the export as {saved!r}, not {name!r}")


def local_path(name: str) -> Path | None:
    if not is_local():
        return None
    path = Path(export_storage().path(name))
    return path if path.is_file() else None


def open_file(name: str) -> IO[bytes]:
    return export_storage().open(name, "rb")


def exists(name: str) -> bool:
    return export_storage().exists(name)


def delete_tree(prefix: str) -> None:
    """Delete everything stored under `prefix` (a job, or one attempt of it)."""
    storage = export_storage()
    if is_local():
        shutil.rmtree(storage.path(prefix), ignore_errors=True)
        return
    for name in stored_files(storage, prefix):
        storage.delete(name)


def attempt_folders() -> dict[str, list[str]]:
    """{job id: [attempt token, ...]} of everything published (the `<job id>/<token>/` folders;
    the local `tmp/` work folder is not one)."""
    storage = export_storage()
    try:
        jobs, _ = storage.listdir("")
    except FileNotFoundError:
        return {}
    found = {}
    for job_id in jobs:
        try:
            found[str(uuid.UUID(job_id))] = storage.listdir(job_id)[0]
        except ValueError:
            continue
    return found




def presigned_url(name: str, seconds: int, download_name: str) -> str | None:
    """A short-lived URL straight to the object (None on local disk, which Django serves)."""
    if is_local():
        return None
    disposition = f"attachment; filename=\"{download_name}\""
    return export_storage().url(name, parameters={"ResponseContentDisposition": disposition},
                                expire=max(1, seconds))
