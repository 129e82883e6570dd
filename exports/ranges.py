"""Resumable downloads: one byte range per request (RFC 9110 §14), enough for a browser or
`curl -C -` to resume a large zip where it stopped.

    Range: bytes=500-        the rest from byte 500      -> 206, Content-Range: bytes 500-999/1000
    Range: bytes=-100        the last 100 bytes          -> 206
    Range: bytes=2000-       past the end                -> 416, Content-Range: bytes */1000

Several ranges at once, or a header that cannot be read, get the whole file (a server may ignore
Range). `If-Range` with another ETag (the file changed since the first part) gets the whole file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

BLOCK = 1 << 20
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")
UNSATISFIABLE = (-1, -1)


def requested_range(request: HttpRequest, size: int, etag: str) -> tuple[int, int] | None:
    """(first, last byte) asked for, None for the whole file, UNSATISFIABLE for a range that
    starts past the end."""
    header = request.headers.get("Range")
    if not header or request.headers.get("If-Range", etag) != etag:
        return None
    found = _RANGE.match(header)
    if found is None or not (found.group(1) or found.group(2)):
        return None
    first, last = found.group(1), found.group(2)
    if not first:  # the last N bytes
        length = int(last)
        return (max(size - length, 0), size - 1) if length and size else UNSATISFIABLE
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size:
        return UNSATISFIABLE
    return None if end < start else (start, end)


def partial_response(handle: IO[bytes], size: int, span: tuple[int, int],
                     content_type: str) -> HttpResponse:
    """206 with the bytes of `span` (or 416), streamed a block at a time from `handle`."""
    if span == UNSATISFIABLE:
        handle.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    start, end = span
    response = StreamingHttpResponse(_blocks(handle, start, end - start + 1), status=206,
                                     content_type=content_type)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(end - start + 1)
    return response


def _blocks(handle: IO[bytes], start: int, length: int) -> Iterator[bytes]:
    try:
        handle.seek(start)
        while length > 0:
            data = handle.read(min(BLOCK, length))
            if not data:
                break
            length -= len(data)
            yield data
    finally:
        handle.close()
