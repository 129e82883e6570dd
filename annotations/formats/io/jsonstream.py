"""Large JSON uploads read as a stream: one array item at a time, so memory stays flat whatever
the file's size (a 150 MB COCO file parsed whole holds ~1 GB of Python objects).

ijson's C backend builds each item; numbers come as int or float, as `json` gives them, and NaN or
Infinity are refused. Errors name the file, like `jsonio.loads_untrusted`'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

import ijson

from annotations.formats.errors import FormatError
from annotations.formats.io.source import Source

CHUNK = 1 << 20
_BOM = b"\xef\xbb\xbf"


class _WithoutBom:
    """The handle minus a leading UTF-8 byte order mark, which the parser does not accept."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        head = handle.read(len(_BOM))
        self.pending = b"" if head == _BOM else head

    def read(self, size: int = -1) -> bytes:
        if not self.pending or size == 0:  # ijson reads 0 bytes first, to tell bytes from text
            return self.handle.read(size)
        data, self.pending = self.pending, b""
        return data + self.handle.read(max(size - len(data), 0) if size >= 0 else -1)


def array_items(source: Source, path: str, key: str) -> Iterator[object]:
    """The items of the top-level array `key`, in file order (none when there is no such array)."""
    return _items(source, path, f"{key}.item")


def values(source: Source, path: str, key: str) -> Iterator[object]:
    """The value of the top-level `key`, built whole (none when the key is missing)."""
    return _items(source, path, key)


def _items(source: Source, path: str, prefix: str) -> Iterator[object]:
    with source.open(path) as handle:
        try:
            yield from ijson.items(_WithoutBom(handle), prefix, use_float=True)
        except ijson.JSONError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "truncated"
            raise FormatError(path, f"invalid JSON: {reason}") from None


def scan(source: Source, path: str, patterns: dict[str, re.Pattern[bytes]],
         starts: bytes) -> set[str]:
    """The names of the patterns found in a JSON file whose text starts with `starts` (`{` or
    `[`; nothing is read past the first chunk otherwise). Read in 1 MB chunks: a match may not
    span more than 256 bytes across a chunk boundary."""
    found: set[str] = set()
    tail = b""
    with source.open(path) as handle:
        chunk = handle.read(CHUNK)
        if not chunk.lstrip(_BOM + b" \t\r\n").startswith(starts):
            return found
        while chunk:
            window = tail + chunk
            found.update(name for name, pattern in patterns.items()
                         if name not in found and pattern.search(window))
            tail = window[-256:]
            chunk = handle.read(CHUNK)
    return found
