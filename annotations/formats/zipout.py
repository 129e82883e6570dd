"""A deterministic zip writer: members sorted by path, fixed timestamps, no directory entries.

Writers add members in whatever order suits them; nothing reaches the zip until `close`, which
writes every member in plain string order of its path (FORMATS.md §3), so the same export gives
byte-identical files. Small members stay in memory, large ones are spooled to the work folder, and
image bytes are only read at close time, one at a time, through the loader.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from typing import IO, Any

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
SPOOL_LIMIT = 1 << 20  # members larger than this go to disk while the export runs
COPY_CHUNK = 1 << 20


class ZipOut:
    def __init__(self, target: str | os.PathLike, *, image_loader: Callable[[Any], IO[bytes]],
                 work_dir: str | None = None, compresslevel: int = 6) -> None:
        self._target = target
        self._loader = image_loader
        self._work = tempfile.mkdtemp(prefix="zipout-", dir=work_dir)
        self._members: dict[str, tuple[str, Any]] = {}  # path -> (kind, payload)
        self._compresslevel = compresslevel
        self.on_member: Callable[[str], None] | None = None

    def add_bytes(self, path: str, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8")
        if len(data) > SPOOL_LIMIT:
            spool = self._spool_path()
            with open(spool, "wb") as handle:
                handle.write(data)
            self._add(path, "file", spool)
        else:
            self._add(path, "bytes", data)

    def open_text(self, path: str) -> IO[str]:
        """A text stream for a large member (COCO JSON, CSV): written to the work folder."""
        spool = self._spool_path()
        self._add(path, "file", spool)
        return open(spool, "w", encoding="utf-8", newline="")

    def open_binary(self, path: str) -> tuple[str, IO[bytes]]:
        spool = self._spool_path()
        self._add(path, "file", spool)
        return spool, open(spool, "wb")

    def add_spooled_file(self, path: str, spool: str) -> None:
        self._add(path, "file", spool)

    def new_work_path(self) -> str:
        return self._spool_path()

    def add_image(self, path: str, image_ref: Any) -> None:
        self._add(path, "image", image_ref)

    def read_image(self, image_ref: Any) -> bytes:
        """The stored bytes of one image, now (TFRecord writers embed them in their records)."""
        with self._loader(image_ref) as source:
            return source.read()

    def __contains__(self, path: str) -> bool:
        return path in self._members

    def paths(self) -> list[str]:
        return sorted(self._members)

    def close(self, on_member: Callable[[str, str], None] | None = None) -> None:
        try:
            with zipfile.ZipFile(self._target, "w", allowZip64=True) as archive:
                for path in sorted(self._members):
                    kind, payload = self._members[path]
                    self._write_member(archive, path, kind, payload)
                    if on_member is not None:
                        on_member(path, kind)
        finally:
            self.discard()

    def discard(self) -> None:
        shutil.rmtree(self._work, ignore_errors=True)

    def _add(self, path: str, kind: str, payload: Any) -> None:
        if path in self._members:
            raise ValueError(f"two members of the zip would be named {path!r}")
        self._members[path] = (kind, payload)

    def _spool_path(self) -> str:
        handle, name = tempfile.mkstemp(dir=self._work)
        os.close(handle)
        return name

    def _write_member(self, archive: zipfile.ZipFile, path: str, kind: str, payload: Any) -> None:
        info = zipfile.ZipInfo(path, date_time=FIXED_TIME)
        info.create_system = 3
        info.external_attr = 0o644 << 16
        if kind == "image":
            # JPEG and PNG are compressed already: storing them is faster and no bigger.
            info.compress_type = zipfile.ZIP_STORED
            with self._loader(payload) as source, archive.open(info, "w", force_zip64=True) as dst:
                shutil.copyfileobj(source, dst, COPY_CHUNK)
            return
        info.compress_type = zipfile.ZIP_DEFLATED
        info._compresslevel = self._compresslevel  # type: ignore[attr-defined]
        if kind == "bytes":
            archive.writestr(info, payload, compress_type=zipfile.ZIP_DEFLATED,
                             compresslevel=self._compresslevel)
        else:
            with open(payload, "rb") as source, archive.open(info, "w", force_zip64=True) as dst:
                shutil.copyfileobj(source, dst, COPY_CHUNK)


def bytes_loader(data_by_ref: dict) -> Callable[[Any], IO[bytes]]:
    """An image loader over an in-memory mapping (tests, small tools)."""
    return lambda ref: io.BytesIO(data_by_ref[ref])
