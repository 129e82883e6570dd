"""Reading an unknown upload: detect its format (with a confidence order) and read it."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator

from annotations.formats.io.source import Source, SubSource
from annotations.formats.records import ImageRecord, ReadResult
from annotations.formats.registry import format_ids, get_format
from annotations.formats.splits import SET_NAMES, set_of_path


def detect_formats(source: Source) -> list[tuple[str, int]]:
    """Every format that recognises the upload, most confident first (confidence 1..100)."""
    scores = []
    for format_id in format_ids():
        score = get_format(format_id).detect(source)
        if score > 0:
            scores.append((format_id, score))
    return sorted(scores, key=lambda item: -item[1])


# Files beside the set folders that describe the whole dataset rather than annotate images: an
# upload with only these outside its set folders is read set by set.
DESCRIBING_SUFFIXES = (".yaml", ".yml", ".names", ".labels", ".pbtxt", ".md")
DESCRIBING_NAMES = {"manifest.json", "skeletons.json", "classes.txt", "labelmap.txt",
                    "readme.txt", "license.txt"}


def sources_by_set(source: Source) -> dict[str, Source] | None:
    """The upload's sets ({"train": files of train/ and the describing files, ...}), or None when
    it has no set folder or has annotation files outside them (read whole, no set recorded)."""
    sets: dict[str, list[str]] = {}
    common = []
    for path in source.files():
        name = set_of_path(path)
        if name is None:
            common.append(path)
        else:
            sets.setdefault(name, []).append(path)
    describing = all(p.lower().endswith(DESCRIBING_SUFFIXES)
                     or posixpath.basename(p).lower() in DESCRIBING_NAMES for p in common)
    if not sets or not describing:
        return None
    return {name: SubSource(source, common + sets[name]) for name in SET_NAMES if name in sets}


def read_by_set(read: Callable[[Source], ReadResult], source: Source) -> ReadResult:
    """`read(source)`, set by set when the upload has set folders: each image record then
    carries the set it came in (`set_name`)."""
    parts = sources_by_set(source)
    if parts is None:
        return read(source)
    results = {name: read(part) for name, part in parts.items()}
    streamed = any(not isinstance(r.images, list) for r in results.values())
    notes: list[str] = []  # filled once every image is read: a streaming reader notes as it goes
    images = _in_sets(results, notes)
    return ReadResult(
        images=images if streamed else list(images),
        labels=list(dict.fromkeys(label for r in results.values() for label in r.labels)),
        skeletons=list({s.label: s for r in results.values() for s in r.skeletons}.values()),
        notes=notes)


def _in_sets(results: dict[str, ReadResult], notes: list[str]) -> Iterator[ImageRecord]:
    for name, result in results.items():
        for record in result.images:
            record.set_name = name
            yield record
    notes.extend(dict.fromkeys(note for r in results.values() for note in r.notes))
