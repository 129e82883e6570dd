"""A deterministic zip writer: members sorted by path, one timestamp for every member, directory
entries only where a writer asks for one (Image Folders' class folders).

Writers add members in whatever order suits them; nothing reaches the zip until `close`, which
writes every member in plain string order of its path (FORMATS.md §3), so the same export gives
byte-identical files. Memory stays flat however many members an export has:

- small members (`add_bytes`) are deflated when added and appended to one store file in the work
  folder; their index entries (offset, sizes, CRC) are held in memory only up to RUN_SIZE at a
  time: then they are sorted and written to a work file as one run, and `close` merges the runs
  (so a path added twice is refused at once within a run, and at `close` across runs);
- the central directory is written to a work file as members are laid out, then copied;
- large members are spooled to their own work file and deflated at close;
- image bytes are only read at close time, one at a time, through the loader.

The archive is laid out exactly as `zipfile.ZipFile` lays it out (local headers, zip64 extras
for spooled members, central directory, end records): the bytes are the same as writing each
member with `writestr` / `open(..., force_zip64=True)` / `mkdir`, which tests/formats/test_zipout.py
checks. Writing the records ourselves skips zipfile's per-member seeks and objects, which
dominate exports of one small file per image.
"""

from __future__ import annotations

import heapq
import io
import os
import pickle
import queue
import shutil
import struct
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from operator import itemgetter
from typing import IO, Any

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
SPOOL_LIMIT = 1 << 20  # members larger than this go to their own work file while the export runs
COPY_CHUNK = 1 << 20
DEFLATE_BLOCK = 1 << 18  # what a text member hands its deflating thread at a time
DEFAULT_LEVEL = 6
# Index entries held in memory before they go to a sorted run file (~350 bytes each: ~6 MB).
# Without runs the index of one small file per image grows by ~0.5 KB per image (~0.5 GB at 1M).
RUN_SIZE = 1 << 14
# Entries per pickle in a run file: what each run holds in memory while the runs are merged
# (~2 MB for the 61 runs of a million members).
_RUN_BLOCK = 128

_EXTERNAL_ATTR = 0o644 << 16
# What ZipFile.mkdir(path) gives a directory: mode drwxrwxrwx, and the MS-DOS directory bit.
_DIRECTORY_ATTR = (0o40000 | 0o777) << 16 | 0x10
_UTF8_FLAG = 0x800
_LIMIT = zipfile.ZIP64_LIMIT
_V20, _V45 = zipfile.DEFAULT_VERSION, zipfile.ZIP64_VERSION
_LOCAL = struct.Struct(zipfile.structFileHeader)
_CENTRAL = struct.Struct(zipfile.structCentralDir)

Progress = Callable[[str, str], None]
Entry = tuple[str, tuple[str, Any]]  # path, (kind, payload)


class ZipOut:
    def __init__(self, target: str | os.PathLike, *, image_loader: Callable[[Any], IO[bytes]],
                 work_dir: str | None = None, compresslevel: int = DEFAULT_LEVEL,
                 date_time: tuple[int, int, int, int, int, int] = FIXED_TIME) -> None:
        self._target = target
        # Every member carries one date (the export's creation time): deterministic for a job.
        self._stamp = dos_stamp(date_time)
        self._loader = image_loader
        self._work = tempfile.mkdtemp(prefix="zipout-", dir=work_dir)
        # path -> (kind, payload): ("stored", (offset, compressed size, size, crc)) for members
        # in the store file, ("file", spool path), ("image", image ref); the members added since
        # the last run was written (`_runs`: sorted run files, `_in_runs`: members in them).
        self._members: dict[str, tuple[str, Any]] = {}
        self._runs: list[str] = []
        self._in_runs = 0
        self._spools: list[str] = []  # few (COCO JSON, CSV, TFRecord shards): their sizes count
        self._deflated_units = 0
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
        compressed = _deflate(data, self._compresslevel)
        self._add(path, "stored", (self._store_size, len(compressed), len(data),
                                   zlib.crc32(data)))
        if self._store is None:
            self._store = open(self._store_path, "wb", buffering=COPY_CHUNK)
        self._store.write(compressed)
        self._store_size += len(compressed)

    def open_text(self, path: str) -> IO[str]:
        """A text stream for a large member (COCO JSON, CSV), deflated by a second thread as it
        is written; the member exists once the stream is closed."""
        if path in self._members:  # as `_add` would, but now rather than at close
            raise ValueError(f"two members of the zip would be named {path!r}")
        sink = _DeflatingSink(self._spool_path(), self._compresslevel,
                              lambda info: self._add(path, "deflated", info))
        return io.TextIOWrapper(io.BufferedWriter(sink, DEFLATE_BLOCK), encoding="utf-8",
                                newline="")

    def open_binary(self, path: str) -> tuple[str, IO[bytes]]:
        spool = self._spool_path()
        self._add(path, "file", spool)
        return spool, open(spool, "wb")

    def add_spooled_file(self, path: str, spool: str) -> None:
        self._add(path, "file", spool)

    def add_work_file(self, path: str, spool: str) -> None:
        """The member a writer wrote to `spool` (from `new_work_path`) bit by bit, laid out as
        `add_bytes` lays out the same bytes (a list of every image need not sit in memory)."""
        if os.path.getsize(spool) > SPOOL_LIMIT:
            self._add(path, "file", spool)
            return
        with open(spool, "rb") as handle:
            data = handle.read()
        os.remove(spool)
        self.add_bytes(path, data)

    def new_work_path(self) -> str:
        return self._spool_path()

    def add_image(self, path: str, image_ref: Any) -> None:
        self._add(path, "image", image_ref)

    def add_directory(self, path: str) -> None:
        """A directory entry (`path` ends with `/`, added if missing), laid out as
        `zipfile.ZipFile.mkdir(path)` writes it: stored, empty, CRC 0."""
        self._add(path if path.endswith("/") else path + "/", "directory", None)

    def read_image(self, image_ref: Any) -> bytes:
        """The stored bytes of one image, now (TFRecord writers embed them in their records)."""
        with self._loader(image_ref) as source:
            return source.read()

    def paths(self) -> list[str]:
        return [path for path, _ in self._sorted_members()]

    def work_units(self) -> int:
        """What `close` reports through `on_units`: one per member, and one per started MiB of a
        member spooled to its own file (images count one each: their size is not known yet)."""
        units = self._in_runs + len(self._members) - len(self._spools) + self._deflated_units
        for spool in self._spools:
            units += _mib_units(os.path.getsize(spool))
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
        if kind == "file":
            self._spools.append(payload)
        elif kind == "deflated":  # its size is known: one unit per started MiB, not just one
            self._deflated_units += _mib_units(payload[2]) - 1
        if len(self._members) >= RUN_SIZE:
            self._write_run()

    def _write_run(self) -> None:
        run = os.path.join(self._work, f"index-{len(self._runs)}.pickle")
        entries = sorted(self._members.items())  # paths are unique here: only they are compared
        with open(run, "wb", buffering=COPY_CHUNK) as handle:
            for start in range(0, len(entries), _RUN_BLOCK):
                pickle.dump(entries[start:start + _RUN_BLOCK], handle, pickle.HIGHEST_PROTOCOL)
        self._runs.append(run)
        self._in_runs += len(entries)
        self._members = {}

    def _sorted_members(self) -> Iterator[Entry]:
        """Every member in path order: the runs merged with the members still in memory."""
        current = sorted(self._members.items())
        if not self._runs:
            yield from current
            return
        previous = None
        for entry in heapq.merge(current, *map(_read_run, self._runs), key=itemgetter(0)):
            if entry[0] == previous:  # in two runs: `_add` only sees the current one
                raise ValueError(f"two members of the zip would be named {previous!r}")
            previous = entry[0]
            yield entry

    def _spool_path(self) -> str:
        handle, name = tempfile.mkstemp(dir=self._work)
        os.close(handle)
        return name


class _DeflatingSink(io.RawIOBase):
    """Where a large member's bytes go: a second thread deflates them into a work file while the
    writer goes on formatting (zlib and crc32 release the GIL, so an export uses both cores).
    The bytes are those of deflating the whole member at once: deflate's output does not depend
    on how its input is split. `done((spool, crc, size))` runs when the sink is closed."""

    def __init__(self, spool: str, level: int, done: Callable[[tuple], None]) -> None:
        self._spool, self._done = spool, done
        self._blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=16)
        self._error: BaseException | None = None
        self._crc = self._size = 0
        self._thread = threading.Thread(target=self._deflate, args=(level,), daemon=True)
        self._thread.start()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self._error is not None:
            raise self._error
        self._blocks.put(bytes(data))
        return len(data)

    def close(self) -> None:
        if self.closed:
            return
        self._blocks.put(None)
        self._thread.join()
        super().close()
        if self._error is not None:
            raise self._error
        self._done((self._spool, self._crc, self._size))

    def _deflate(self, level: int) -> None:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        try:
            with open(self._spool, "wb") as handle:
                while (block := self._blocks.get()) is not None:
                    self._crc = zlib.crc32(block, self._crc)
                    self._size += len(block)
                    handle.write(compressor.compress(block))
                handle.write(compressor.flush())
        except BaseException as exc:  # e.g. the disk is full: the writer raises it
            self._error = exc
            while self._blocks.get() is not None:  # never leave the writer blocked on put()
                pass


def _mib_units(size: int) -> int:
    return max(1, -(-size // COPY_CHUNK))


def _read_run(run: str) -> Iterator[Entry]:
    with open(run, "rb") as handle:
        while True:
            try:
                block = pickle.load(handle)
            except EOFError:
                return
            yield from block


def _read_start(source: IO[bytes]) -> bytes:
    """The first COPY_CHUNK + 1 bytes at most, read with a buffer of the file's size when it is
    known: a read of 1 MiB allocates 1 MiB first, ~100 µs per 9 KB JPEG (half the copy)."""
    want = COPY_CHUNK + 1
    try:
        size = os.fstat(source.fileno()).st_size
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return _read_full(source, want)
    data = _read_full(source, min(size + 1, want))
    if len(data) == size + 1 < want:  # it grew since: read on
        data += _read_full(source, want - len(data))
    return data


def _read_full(source: IO[bytes], size: int) -> bytes:
    """`size` bytes, fewer only at the end of the file: an unbuffered file may return less."""
    data = source.read(size)
    while len(data) < size:
        more = source.read(size - len(data))
        if not more:
            break
        data += more
    return data


def _deflate(data: bytes, level: int) -> bytes:
    # zipfile's compressor: raw deflate (wbits -15), default memory level.
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


class _Archive:
    """Lays out local headers, data and the central directory as zipfile does."""

    def __init__(self, fp: IO[bytes], out: ZipOut, on_units: Callable[[int], None] | None):
        self.fp, self.out, self.on_units = fp, out, on_units
        # The central directory grows by ~80 bytes per member: spooled, copied at the end.
        self.central = tempfile.TemporaryFile(dir=out._work, buffering=COPY_CHUNK)
        self.central_size = self.count = 0
        self.offset = fp.tell()  # offsets are positions in the file, as zipfile writes them

    def write(self, on_member: Progress | None) -> None:
        store = open(self.out._store_path, "rb") if self.out._store is not None else None
        try:
            for path, (kind, payload) in self.out._sorted_members():
                if kind == "stored":
                    offset, size = payload[0], payload[1]
                    data = os.pread(store.fileno(), size, offset)  # type: ignore[union-attr]
                    self._member(path, zipfile.ZIP_DEFLATED, payload[3], data, payload[2],
                                 zip64=False)
                    self._units(1)
                elif kind == "file":
                    with open(payload, "rb") as source:
                        self._streamed(path, zipfile.ZIP_DEFLATED, source)
                elif kind == "deflated":
                    self._deflated(path, *payload)
                elif kind == "directory":
                    self._member(path, zipfile.ZIP_STORED, 0, b"", 0, zip64=False,
                                 external_attr=_DIRECTORY_ATTR)
                    self._units(1)
                else:
                    self._image(path, payload)
                if on_member is not None:
                    on_member(path, kind)
            self._end()
        finally:
            if store is not None:
                store.close()
            self.central.close()

    def _image(self, path: str, ref: Any) -> None:
        """JPEG and PNG are compressed already: stored, which is faster and no bigger. An image
        up to COPY_CHUNK is read at once into a buffer of its size; a larger one is streamed
        (the same bytes either way, as `_streamed` lays them out)."""
        with self.out._loader(ref) as source:
            data = _read_start(source)
        if len(data) > COPY_CHUNK:
            with self.out._loader(ref) as source:
                self._streamed(path, zipfile.ZIP_STORED, source)
            return
        self._member(path, zipfile.ZIP_STORED, zlib.crc32(data), data, len(data), zip64=True)
        self._units(1)

    def _units(self, n: int) -> None:
        if self.on_units is not None:
            self.on_units(n)

    def _member(self, path: str, method: int, crc: int, data: bytes, size: int,
                zip64: bool, external_attr: int = _EXTERNAL_ATTR) -> None:
        """One member whose CRC and sizes are known before its header is written."""
        name, flags = _encode(path)
        self.fp.write(_local_header(name, flags, method, crc, len(data), size, zip64,
                                    self.out._stamp))
        self.fp.write(data)
        self._record(name, flags, method, crc, len(data), size, zip64, external_attr)

    def _deflated(self, path: str, spool: str, crc: int, size: int) -> None:
        """A member `_DeflatingSink` compressed already: laid out as `_streamed` lays out the
        same bytes (its header always has the zip64 extra field)."""
        name, flags = _encode(path)
        compressed = os.path.getsize(spool)
        self.fp.write(_local_header(name, flags, zipfile.ZIP_DEFLATED, crc, compressed, size,
                                    zip64=True, stamp=self.out._stamp))
        with open(spool, "rb") as source:
            shutil.copyfileobj(source, self.fp, COPY_CHUNK)
        self._units(_mib_units(size))
        self._record(name, flags, zipfile.ZIP_DEFLATED, crc, compressed, size, True)

    def _streamed(self, path: str, method: int, source: IO[bytes]) -> None:
        """A member written as zipfile's `open(info, "w", force_zip64=True)` writes it."""
        first = _read_full(source, COPY_CHUNK)
        second = _read_full(source, COPY_CHUNK) if len(first) == COPY_CHUNK else b""
        if not second:  # one piece: known before the header, no seeking back
            data = first
            if method == zipfile.ZIP_DEFLATED:
                data = _deflate(first, self.out._compresslevel)
            self._member(path, method, zlib.crc32(first), data, len(first), zip64=True)
            self._units(1)
            return
        name, flags = _encode(path)
        start = self.offset
        header = _local_header(name, flags, method, 0, 0, 0, zip64=True, stamp=self.out._stamp)
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
            block, second = second, (_read_full(source, COPY_CHUNK) if second else b"")
        if compressor is not None:
            tail = compressor.flush()
            self.fp.write(tail)
            written += len(tail)
        end = self.fp.tell()
        self.fp.seek(start)
        self.fp.write(_local_header(name, flags, method, crc, written, size, zip64=True,
                                    stamp=self.out._stamp))
        self.fp.seek(end)
        self.offset = start  # _record advances past header and data
        self._record(name, flags, method, crc, written, size, True)

    def _record(self, name: bytes, flags: int, method: int, crc: int, compressed: int,
                size: int, zip64: bool, external_attr: int = _EXTERNAL_ATTR) -> None:
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
        record = _CENTRAL.pack(
            zipfile.stringCentralDir, version, 3, version, 0, flags, method, *self.out._stamp,
            crc, compressed_field, size_field, len(name), len(extra), 0, 0, 0,
            external_attr, offset_field) + name + extra
        self.central.write(record)
        self.central_size += len(record)
        self.count += 1

    def _end(self) -> None:
        start, size, count = self.offset, self.central_size, self.count
        self.central.seek(0)
        shutil.copyfileobj(self.central, self.fp, COPY_CHUNK)
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


def dos_stamp(date_time: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    """(time, date) as zip headers store them: local time fields, two-second steps, 1980-2107."""
    year, month, day, hour, minute, second = date_time
    if not 1980 <= year <= 2107:
        raise ValueError(f"a zip entry cannot be dated {year}")
    return hour << 11 | minute << 5 | second // 2, (year - 1980) << 9 | month << 5 | day


def _local_header(name: bytes, flags: int, method: int, crc: int, compressed: int, size: int,
                  zip64: bool, stamp: tuple[int, int]) -> bytes:
    if zip64:
        return (_LOCAL.pack(zipfile.stringFileHeader, _V45, 0, flags, method, *stamp,
                            crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name), 20)
                + name + struct.pack("<HHQQ", 1, 16, size, compressed))
    return (_LOCAL.pack(zipfile.stringFileHeader, _V20, 0, flags, method, *stamp,
                        crc, compressed, size, len(name), 0) + name)


def bytes_loader(data_by_ref: dict) -> Callable[[Any], IO[bytes]]:
    """An image loader over an in-memory mapping (tests, small tools)."""
    return lambda ref: io.BytesIO(data_by_ref[ref])
