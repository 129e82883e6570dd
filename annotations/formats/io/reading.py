"""Reading an unknown upload: detect its format (with a confidence order) and read it."""

from __future__ import annotations

from annotations.formats.errors import FormatError
from annotations.formats.io.source import Source
from annotations.formats.records import ReadResult
from annotations.formats.registry import format_ids, get_format
from annotations.formats.spec import ReadContext


def detect_formats(source: Source) -> list[tuple[str, int]]:
    """Every format that recognises the upload, most confident first (confidence 1..100)."""
    scores = []
    for format_id in format_ids():
        score = get_format(format_id).detect(source)
        if score > 0:
            scores.append((format_id, score))
    return sorted(scores, key=lambda item: -item[1])


def read_annotations(source: Source, format_id: str | None = None,
                     context: ReadContext | None = None) -> tuple[str, ReadResult]:
    context = context or ReadContext()
    if format_id is None:
        found = detect_formats(source)
        if not found:
            raise FormatError("upload", "no annotation format recognised in these files")
        format_id = found[0][0]
    return format_id, get_format(format_id).read(source, context)


def set_prefix(path: str) -> str:
    """'x/train/labels/a.txt' -> 'x/train/': the folder of a set, or '' when unsplit."""
    parts = path.split("/")
    for index in range(len(parts) - 1, -1, -1):
        if parts[index] in ("train", "test", "valid", "val"):
            return "/".join(parts[: index + 1]) + "/"
    return ""
