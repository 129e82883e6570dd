"""Where readers read from: a folder or a zip, seen as a flat list of relative POSIX paths.

Readers only ever open paths this listing gave them; a path written inside an annotation file is
a name to match, never a path to open.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

MAX_MEMBERS = 200_000
MAX_TOTAL_UNCOMPRESSED = 20 << 30
MAX_RATIO = 200


class UnsafeArchive(ValueError):
    pass


class Source:
    """A read-only tree of files: `files()` lists them, `read(path)` returns bytes."""

    def files(self) -> list[str]:
        raise NotImplementedError

    def read(self, path: str) -> bytes:
        raise NotImplementedError

    def size(self, path: str) -> int:
        raise NotImplementedError

    def open(self, path: str) -> BinaryIO:
        """The file as a stream, for readers that parse large files piece by piece."""
        return io.BytesIO(self.read(path))

    def text(self, path: str) -> str:
        from annotations.formats.errors import FormatError

        try:
            return self.read(path).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FormatError(path, f"not UTF-8 text (byte {exc.start})") from None


class FolderSource(Source):
    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).resolve()
        self._files = sorted(
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.is_symlink()
        )
        self._known = set(self._files)

    def files(self) -> list[str]:
        return self._files

    def _path(self, path: str) -> Path:
        if path not in self._known:
            raise FileNotFoundError(path)
        return self.root / path

    def read(self, path: str) -> bytes:
        return self._path(path).read_bytes()

    def open(self, path: str) -> BinaryIO:
        return open(self._path(path), "rb")

    def size(self, path: str) -> int:
        return self._path(path).stat().st_size


class ZipSource(Source):
    """A zip checked before anything is read: no traversal, links, bombs or duplicates."""

    def __init__(self, archive: str | os.PathLike, *, max_members: int = MAX_MEMBERS,
                 max_total: int = MAX_TOTAL_UNCOMPRESSED, max_ratio: int = MAX_RATIO) -> None:
        try:
            self._zip = zipfile.ZipFile(archive)
        except zipfile.BadZipFile:
            raise UnsafeArchive("the file is not a zip archive") from None
        infos = [i for i in self._zip.infolist() if not i.is_dir()]
        if len(infos) > max_members:
            raise UnsafeArchive(f"the zip has {len(infos)} files; the limit is {max_members}")
        self._infos: dict[str, zipfile.ZipInfo] = {}
        total = packed = 0
        for info in infos:
            name = _check_member_name(info)
            if name in self._infos:
                raise UnsafeArchive(f"the zip holds {name!r} twice")
            if (info.external_attr >> 16) and stat.S_ISLNK(info.external_attr >> 16):
                raise UnsafeArchive(f"{name!r} is a symbolic link; links are not accepted")
            total += info.file_size
            packed += info.compress_size
            if info.file_size > 1 << 20 and info.file_size > max_ratio * max(info.compress_size, 1):
                ratio = info.file_size // max(info.compress_size, 1)
                raise UnsafeArchive(f"{name!r} expands {ratio} times; that looks like a zip bomb")
            self._infos[name] = info
        if total > max_total:
            raise UnsafeArchive(f"the zip expands to {total} bytes; the limit is {max_total}")
        # Many small members add up: the ratio of the whole archive counts, not only large members.
        if total > 1 << 20 and total > max_ratio * max(packed, 1):
            raise UnsafeArchive(f"the zip expands {total // max(packed, 1)} times in all "
                                f"({total} bytes from {packed}); that looks like a zip bomb")

    def files(self) -> list[str]:
        return sorted(self._infos)

    def read(self, path: str) -> bytes:
        info = self._infos[path]
        with self._zip.open(info) as handle:
            data = handle.read(info.file_size + 1)
        if len(data) > info.file_size:
            raise UnsafeArchive(f"{path!r} is larger than the zip says")
        return data

    def size(self, path: str) -> int:
        return self._infos[path].file_size

    def open(self, path: str) -> BinaryIO:
        # zipfile stops at the declared size and checks the CRC: no more than size() comes out.
        return self._zip.open(self._infos[path])

    def close(self) -> None:
        self._zip.close()


def _check_member_name(info: zipfile.ZipInfo) -> str:
    name = info.filename.replace("\\", "/")
    pure = PurePosixPath(name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in pure.parts:
        raise UnsafeArchive(f"{info.filename!r} points outside the zip")
    if any(ord(ch) < 32 for ch in name):
        raise UnsafeArchive(f"{info.filename!r} has a control character in its name")
    posix = pure.as_posix()
    return name if posix == name else posix  # the zip's own string: one copy per member name


class SubSource(Source):
    """Some of another source's files: one set of an upload split into sets."""

    def __init__(self, parent: Source, files: list[str]) -> None:
        self.parent, self._files = parent, sorted(files)

    def files(self) -> list[str]:
        return list(self._files)

    def read(self, path: str) -> bytes:
        return self.parent.read(path)

    def size(self, path: str) -> int:
        return self.parent.size(path)

    def open(self, path: str) -> BinaryIO:
        return self.parent.open(path)


class MemorySource(Source):
    """Files held in a dict (tests, and readers fed from an export just written)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self._data = dict(files)

    def files(self) -> list[str]:
        return sorted(self._data)

    def read(self, path: str) -> bytes:
        return self._data[path]

    def size(self, path: str) -> int:
        return len(self._data[path])
