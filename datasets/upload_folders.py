"""Upload folders: one per upload, on local disk or (for workers on other machines) in storage.

    <NEXUS_UPLOAD_DIR>/<upload id>/content/<file>   what the browser (or the shell) sent
    <NEXUS_UPLOAD_DIR>/<upload id>/plan.json        an annotation import's plan, once analysed
    <NEXUS_UPLOAD_DIR>/<upload id>/plan-rows.jsonl  and its rows (annotations.plans)

With object storage (`STORAGES["uploads"]` not on local disk) the web machine keeps nothing: the
upload is copied there when a worker has to read it, and fetched back by that worker.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages

from .stored_files import stored_files, sweep_local_folder
from .uploads import UploadRefused


def upload_storage() -> Storage:
    if "uploads" in settings.STORAGES:
        return storages["uploads"]
    return FileSystemStorage(location=settings.NEXUS_UPLOAD_DIR)


def storage_is_local() -> bool:
    return isinstance(upload_storage(), FileSystemStorage)


def local_root() -> Path:
    storage = upload_storage()
    root = Path(storage.location if isinstance(storage, FileSystemStorage)
                else settings.NEXUS_UPLOAD_DIR)
    root.mkdir(parents=True, exist_ok=True)
    return root


def upload_create(prefix: str = "") -> tuple[str, Path]:
    """A new, empty upload folder: (its id, its local path)."""
    upload_id = prefix + uuid.uuid4().hex
    folder = local_root() / upload_id
    (folder / "content").mkdir(parents=True)
    return upload_id, folder


def upload_remove(upload_id: str) -> None:
    if not upload_id or "/" in upload_id or upload_id.startswith("."):
        return
    shutil.rmtree(local_root() / upload_id, ignore_errors=True)
    if not storage_is_local():
        storage = upload_storage()
        for name in stored_files(storage, upload_id):
            storage.delete(name)


def upload_persist(upload_id: str) -> None:
    """Make the upload's files readable by a worker on any machine (a no-op on local disk)."""
    if storage_is_local():
        return
    storage, folder = upload_storage(), local_root() / upload_id
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = f"{upload_id}/{path.relative_to(folder).as_posix()}"
        with open(path, "rb") as handle:
            storage.delete(name)
            storage.save(name, File(handle))


def upload_release_local(upload_id: str) -> None:
    """With object storage, the web machine keeps nothing once the upload is stored there."""
    if not storage_is_local():
        shutil.rmtree(local_root() / upload_id, ignore_errors=True)


@contextmanager
def upload_local(upload_id: str) -> Iterator[Path]:
    """The upload's local folder; fetched from object storage first when it is not here."""
    folder = local_root() / upload_id
    fetched = False
    if not storage_is_local() and not (folder / "content").is_dir():
        storage = upload_storage()
        for name in stored_files(storage, f"{upload_id}/content"):
            target = local_root() / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with storage.open(name, "rb") as source, open(target, "wb") as handle:
                shutil.copyfileobj(source, handle, 1 << 20)
        fetched = True
    if not (folder / "content").is_dir():
        raise UploadRefused("The uploaded file is no longer on the server; upload it again.", 410)
    try:
        yield folder
    finally:
        if fetched:
            shutil.rmtree(folder, ignore_errors=True)


def upload_write(upload_id: str, name: str, data: bytes) -> None:
    if storage_is_local():
        (local_root() / upload_id / name).write_bytes(data)
        return
    storage = upload_storage()
    storage.delete(f"{upload_id}/{name}")  # save() would pick another name for a second write
    storage.save(f"{upload_id}/{name}", ContentFile(data))


def upload_save_file(upload_id: str, name: str, path: Path) -> None:
    """Move a local file (in local_root(), e.g. an import's plan rows) into the upload: a rename
    on local disk, a streamed copy to object storage."""
    if storage_is_local():
        os.replace(path, local_root() / upload_id / name)
        return
    storage = upload_storage()
    with open(path, "rb") as handle:
        storage.delete(f"{upload_id}/{name}")
        storage.save(f"{upload_id}/{name}", File(handle))
    path.unlink()


@contextmanager
def upload_file(upload_id: str, name: str) -> Iterator[Path]:
    """A local path to one of the upload's files, fetched from object storage when not local."""
    if storage_is_local():
        path = local_root() / upload_id / name
        if not path.is_file():
            raise UploadRefused("The uploaded file is no longer on the server; upload it "
                                "again.", 410)
        yield path
        return
    storage = upload_storage()
    if not storage.exists(f"{upload_id}/{name}"):
        raise UploadRefused("The uploaded file is no longer on the server; upload it again.", 410)
    handle, temporary = tempfile.mkstemp(prefix=".fetched-", dir=local_root())
    try:
        with storage.open(f"{upload_id}/{name}", "rb") as source, os.fdopen(handle, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
        yield Path(temporary)
    finally:
        Path(temporary).unlink(missing_ok=True)


def upload_read(upload_id: str, name: str) -> bytes:
    storage = upload_storage()
    if not storage.exists(f"{upload_id}/{name}"):
        raise UploadRefused("The uploaded file is no longer on the server; upload it again.", 410)
    with storage.open(f"{upload_id}/{name}", "rb") as handle:
        return handle.read()


def uploads_sweep(live: set[str], older_than: float) -> int:
    """Remove upload folders that no live job names and nobody wrote to for `older_than` s."""
    cutoff = time.time() - older_than
    swept = sweep_local_folder(local_root(), lambda entry: entry.name in live
                               or _last_write(entry) > cutoff)
    if not storage_is_local():
        storage = upload_storage()
        for folder in storage.listdir("")[0]:
            names = stored_files(storage, folder)
            if folder in live or any(storage.get_modified_time(n).timestamp() > cutoff
                                     for n in names):
                continue
            for name in names:
                storage.delete(name)
            swept += 1
    return swept


def _last_write(entry: Path) -> float:
    """The newest mtime in the folder: a file being streamed in keeps its folder alive."""
    newest = entry.stat().st_mtime
    for path in entry.rglob("*"):
        try:
            newest = max(newest, path.stat().st_mtime)
        except FileNotFoundError:
            continue
    return newest
