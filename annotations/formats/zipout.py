"""A deterministic zip writer: members sorted by path, fixed timestamps, no directory entries.

Writers add members in whatever order suits them; nothing reaches the zip until `close`, which
writes every member in plain string order of its path (FORMATS.md §3), so the same export gives
byte-identical files. Memory stays flat however many members an export has:

- small members (`add_bytes`) are deflated when added and appended to one store file in the work
  folder; only their index entry (offset, sizes, CRC) stays in memory;
- large members are spooled to their own work file and deflated at close;
- image bytes are only read at close time, one at a time, through the loader.

The archive is laid out exactly as `zipfile.ZipFile` lays it out (local headers, zip64 extras
for spooled members, central directory, end records): the bytes are the same as writing each
member with `writestr` / `open(..., force_zip64=True)`, which tests/formats/test_zipout.py
checks. Writing the records ourselves skips zipfile's per-member seeks and objects, which
dominate exports of one small file per image.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from typing import IO, Any

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
SPOOL_LIMIT = 1 << 20  # members larger than this go to their own work file while the export runs
COPY_CHUNK = 1 << 20
DEFAULT_LEVEL = 6

_DOS_DATE = (FIXED_TIME[0] - 1980) << 9 | FIXED_TIME[1] << 5 | FIXED_TIME[2]
_DOS_TIME = FIXED_TIME[3] << 11 | FIXED_TIME[4] << 5 | (FIXED_TIME[5] // 2)
_EXTERNAL_ATTR = 0o644 << 16
_UTF8_FLAG = 0x800
_LIMIT = zipfile.ZIP64_LIMIT
_V20, _V45 = zipfile.DEFAULT_VERSION, zipfile.ZIP64_VERSION
_LOCAL = struct.Struct(zipfile.structFileHeader)
_CENTRAL = struct.Struct(zipfile.structCentralDir)

Progress = Callable[[str, str], None]


class ZipOut:
    def __init__(self, target: str | os.PathLike, *, image_loader: Callable[[Any], IO[bytes]],
                 work_dir: str | None = None, compresslevel: int = DEFAULT_LEVEL) -> None:
        self._target = target
        self._loader = image_loader
        self._work = tempfile.mkdtemp(prefix="zipout-", dir=work_dir)
        # path -> (kind, payload): ("stored", (offset, compressed size, size, crc)) for members
        # in the store file, ("file", spool path), ("image", image ref).
        self._members: dict[str, tuple[str, Any]] = {}
        self._compresslevel = compresslevel
        self._store: IO[bytes] | None = None
        self._store_path = os.path.join(self._work, "members.bin")
        self._store_size = 0
        # Called with a count of work units as `close` writes (see `work_units`), so progress
        # keeps moving while a large member is compressed.
        self.on_units: Callable[[int], None] | None = None

    def add_bytes(self, path: str, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8")
        if len(data) > SPOOL_LIMIT:
            spool = self._spool_path()
            with open(spool, "wb") as handle:
                handle.write(data)
            self._add(path, "file", spool)
            return
        if path in self._members:
            raise ValueError(f"two members of the zip would be named {path!r}")
        compressed = _deflate(data, self._compresslevel)
        if self._store is None:
            self._store = open(self._store_path, "wb", buffering=COPY_CHUNK)
        self._store.write(compressed)
        self._members[path] = ("stored", (self._store_size, len(compressed), len(data),
                                          zlib.crc32(data)))
        self._store_size += len(compressed)

    def open_text(self, path: str) -> IO[str]:
        """A text stream for a large member (COCO JSON, CSV): written to the work folder."""
        spool = self._spool_path()
        self._add(path, "file", spool)
        return open(spool, "w", encoding="utf-8", newline="", buffering=COPY_CHUNK)

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

    def work_units(self) -> int:
        """What `close` reports through `on_units`: one per member, and one per started MiB of a
        member spooled to its own file (images count one each: their size is not known yet)."""
        units = 0
        for kind, payload in self._members.values():
            units += max(1, -(-os.path.getsize(payload) // COPY_CHUNK)) if kind == "file" else 1
        return units

    def close(self, on_member: Progress | None = None) -> None:
        """Write the zip; `on_member(path, kind)` after each member."""
        try:
            if self._store is not None:
                self._store.close()
            if hasattr(self._target, "write"):  # a seekable binary file object
                _Archive(self._target, self, self.on_units).write(on_member)
            else:
                with open(self._target, "wb", buffering=COPY_CHUNK) as archive:
                    _Archive(archive, self, self.on_units).write(on_member)
        finally:
            self.discard()

    def discard(self) -> None:
        if self._store is not None:
            self._store.close()
        shutil.rmtree(self._work, ignore_errors=True)

    def _add(self, path: str, kind: str, payload: Any) -> None:
        if path in self._members:
            raise ValueError(f"two members of the zip would be named {path!r}")
        self._members[path] = (kind, payload)

    def _spool_path(self) -> str:
        handle, name = tempfile.mkstemp(dir=self._work)
        os.close(handle)
        return name


def _deflate(data: bytes, level: int) -> bytes:
    # zipfile's compressor: raw deflate (wbits -15), default memory level.
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


class _Archive:
    """Lays out local headers, data and the central directory as zipfile does."""

    def __init__(self, fp: IO[bytes], out: ZipOut, on_units: Callable[[int], None] | None):
        self.fp, self.out, self.on_units = fp, out, on_units
        self.central: list[bytes] = []
        self.offset = fp.tell()  # offsets are positions in the file, as zipfile writes them

    def write(self, on_member: Progress | None) -> None:
        members = self.out._members
        store = open(self.out._store_path, "rb") if self.out._store is not None else None
        try:
            for path in sorted(members):
                kind, payload = members[path]
                if kind == "stored":
                    offset, size = payload[0], payload[1]
                    data = os.pread(store.fileno(), size, offset)  # type: ignore[union-attr]
                    self._member(path, zipfile.ZIP_DEFLATED, payload[3], data, payload[2],
                                 zip64=False)
                    self._units(1)
                elif kind == "file":
                    with open(payload, "rb") as source:
                        self._streamed(path, zipfile.ZIP_DEFLATED, source)
                else:
                    # JPEG and PNG are compressed already: storing them is faster and no bigger.
                    with self.out._loader(payload) as source:
                        self._streamed(path, zipfile.ZIP_STORED, source)
                if on_member is not None:
                    on_member(path, kind)
        finally:
            if store is not None:
                store.close()
        self._end()

    def _units(self, n: int) -> None:
        if self.on_units is not None:
            self.on_units(n)

    def _member(self, path: str, method: int, crc: int, data: bytes, size: int,
                zip64: bool) -> None:
        """One member whose CRC and sizes are known before its header is written."""
        name, flags = _encode(path)
        self.fp.write(_local_header(name, flags, method, crc, len(data), size, zip64))
        self.fp.write(data)
        self._record(name, flags, method, crc, len(data), size, zip64)

    def _streamed(self, path: str, method: int, source: IO[bytes]) -> None:
        """A member written as zipfile's `open(info, "w", force_zip64=True)` writes it."""
        first = source.read(COPY_CHUNK)
        second = source.read(COPY_CHUNK) if len(first) == COPY_CHUNK else b""
        if not second:  # one piece: known before the header, no seeking back
            data = first
            if method == zipfile.ZIP_DEFLATED:
                data = _deflate(first, self.out._compresslevel)
            self._member(path, method, zlib.crc32(first), data, len(first), zip64=True)
            self._units(1)
            return
        name, flags = _encode(path)
        start = self.offset
        header = _local_header(name, flags, method, 0, 0, 0, zip64=True)
        self.fp.write(header)
        compressor = (zlib.compressobj(self.out._compresslevel, zlib.DEFLATED, -15)
                      if method == zipfile.ZIP_DEFLATED else None)
        crc = size = written = 0
        block = first
        while block:
            crc = zlib.crc32(block, crc)
            size += len(block)
            data = compressor.compress(block) if compressor else block
            self.fp.write(data)
            written += len(data)
            self._units(1)
            block, second = second, (source.read(COPY_CHUNK) if second else b"")
        if compressor is not None:
            tail = compressor.flush()
            self.fp.write(tail)
            written += len(tail)
        end = self.fp.tell()
        self.fp.seek(start)
        self.fp.write(_local_header(name, flags, method, crc, written, size, zip64=True))
        self.fp.seek(end)
        self.offset = start  # _record advances past header and data
        self._record(name, flags, method, crc, written, size, True)

    def _record(self, name: bytes, flags: int, method: int, crc: int, compressed: int,
                size: int, zip64: bool) -> None:
        offset = self.offset
        self.offset += _LOCAL.size + len(name) + (20 if zip64 else 0) + compressed
        # A zip64 local header also raises the versions zipfile keeps for the central record.
        version = _V45 if zip64 else _V20
        extra_values = []
        if size > _LIMIT or compressed > _LIMIT:
            extra_values += [size, compressed]
            size_field = compressed_field = 0xFFFFFFFF
        else:
            size_field, compressed_field = size, compressed
        if offset > _LIMIT:
            extra_values.append(offset)
            offset_field = 0xFFFFFFFF
        else:
            offset_field = offset
        extra = b""
        if extra_values:
            extra = struct.pack("<HH" + "Q" * len(extra_values), 1, 8 * len(extra_values),
                                *extra_values)
            version = _V45
        self.central.append(_CENTRAL.pack(
            zipfile.stringCentralDir, version, 3, version, 0, flags, method, _DOS_TIME,
            _DOS_DATE, crc, compressed_field, size_field, len(name), len(extra), 0, 0, 0,
            _EXTERNAL_ATTR, offset_field) + name + extra)

    def _end(self) -> None:
        start = self.offset
        for record in self.central:
            self.fp.write(record)
        size = sum(len(r) for r in self.central)
        count = len(self.central)
        end = start + size
        if count > zipfile.ZIP_FILECOUNT_LIMIT or start > _LIMIT or size > _LIMIT:
            self.fp.write(struct.pack(zipfile.structEndArchive64, zipfile.stringEndArchive64,
                                      44, 45, 45, 0, 0, count, count, size, start))
            self.fp.write(struct.pack(zipfile.structEndArchive64Locator,
                                      zipfile.stringEndArchive64Locator, 0, end, 1))
            count, size, start = min(count, 0xFFFF), min(size, 0xFFFFFFFF), min(start, 0xFFFFFFFF)
        self.fp.write(struct.pack(zipfile.structEndArchive, zipfile.stringEndArchive,
                                  0, 0, count, count, size, start, 0))


def _encode(path: str) -> tuple[bytes, int]:
    """The name's bytes and flags: UTF-8 (with its flag) only when it is not plain ASCII."""
    if path.isascii():
        return path.encode("ascii"), 0
    return path.encode("utf-8"), _UTF8_FLAG


def _local_header(name: bytes, flags: int, method: int, crc: int, compressed: int, size: int,
                  zip64: bool) -> bytes:
    if zip64:
        return (_LOCAL.pack(zipfile.stringFileHeader, _V45, 0, flags, method, _DOS_TIME,
                            _DOS_DATE, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name), 20)
                + name + struct.pack("<HHQQ", 1, 16, size, compressed))
    return (_LOCAL.pack(zipfile.stringFileHeader, _V20, 0, flags, method, _DOS_TIME, _DOS_DATE,
                        crc, compressed, size, len(name), 0) + name)


def bytes_loader(data_by_ref: dict) -> Callable[[Any], IO[bytes]]:
    """An image loader over an in-memory mapping (tests, small tools)."""
    return lambda ref: io.BytesIO(data_by_ref[ref])
