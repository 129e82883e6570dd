"""Typed field checks for JSON uploads: each failure names the file, the record and the problem.

`where` is the record ("annotations record 3"); messages read
`train/_annotations.coco.json: annotations record 3: id must be an integer, got "7"`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any, NoReturn

from annotations.formats.errors import FormatError
from annotations.formats.families.rle import runs_to_string, string_to_runs
from annotations.formats.records import Rle

# No image is a billion pixels wide; beyond this, sums of coordinates could overflow a float.
MAX_COORDINATE = 1e9


def show(value: Any) -> str:
    """A JSON value as the user wrote it, cut short (a string shows its quotes)."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Checker:
    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, where: str, message: str) -> NoReturn:
        raise FormatError(self.path, f"{where}: {message}")

    def get(self, record: dict, key: str, where: str) -> Any:
        if key not in record:
            self.fail(where, f"missing key {key!r}")
        return record[key]

    def records(self, document: dict, key: str) -> Iterator[tuple[int, dict]]:
        """The objects of a top-level array, numbered from 1."""
        items = self.get(document, key, "the file")
        if not isinstance(items, list):
            self.fail("the file", f"{key} must be a list, got {show(items)}")
        for number, record in enumerate(items, start=1):
            if not isinstance(record, dict):
                self.fail(f"{key} record {number}", f"expected an object, got {show(record)}")
            yield number, record

    def integer(self, record: dict, key: str, where: str) -> int:
        value = self.get(record, key, where)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(where, f"{key} must be an integer, got {show(value)}")
        return value

    def text(self, record: dict, key: str, where: str) -> str:
        value = self.get(record, key, where)
        if not isinstance(value, str) or not value.strip():
            self.fail(where, f"{key} must be a non-empty string, got {show(value)}")
        return value

    def strings(self, record: dict, key: str, where: str) -> list[str]:
        value = self.get(record, key, where)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(where, f"{key} must be a list of strings, got {show(value)}")
        return value

    def number(self, record: dict, key: str, where: str) -> float:
        value = self.get(record, key, where)
        if not is_number(value) or not math.isfinite(value):
            self.fail(where, f"{key} must be a number, got {show(value)}")
        return float(value)

    def optional_number(self, record: dict, key: str, where: str) -> float | None:
        return self.number(record, key, where) if record.get(key) is not None else None

    def numbers(self, value: Any, what: str, where: str, count: int | None = None) -> list[float]:
        # The common case first, in C-speed passes: a list of plain ints and floats, in range
        # (checked before fsum, which overflows on values near the float maximum).
        if type(value) is list and (count is None or len(value) == count) \
                and all(type(v) is float or type(v) is int for v in value):
            floats = [float(v) for v in value]
            if not floats or (-MAX_COORDINATE <= min(floats) and max(floats) <= MAX_COORDINATE
                              and math.isfinite(math.fsum(floats))):
                return floats
        if not isinstance(value, list):
            self.fail(where, f"{what} must be a list of numbers, got {show(value)}")
        for item in value:
            # json gives inf for 1e999; NaN and Infinity are refused while parsing.
            if not is_number(item) or not math.isfinite(item):
                self.fail(where, f"{what} must hold only numbers, got {show(item)}")
            if not -MAX_COORDINATE <= item <= MAX_COORDINATE:
                self.fail(where, f"{what} coordinates out of range: {show(item)} (the limit is "
                          f"±{MAX_COORDINATE:.0e})")
        if count is not None and len(value) != count:
            self.fail(where, f"{what} must have {count} numbers, got {len(value)}")
        return [float(v) for v in value]

    def pairs(self, value: Any, size: int, where: str, *, key: str = "skeleton",
              first: int = 1) -> list[tuple[int, int]]:
        """Index pairs counted from `first` (COCO `skeleton`: 1) as 0-based tuples."""
        if not isinstance(value, list):
            self.fail(where, f"{key} must be a list of pairs, got {show(value)}")
        pairs = []
        for pair in value:
            if (not isinstance(pair, list) or len(pair) != 2
                    or not all(isinstance(i, int) and not isinstance(i, bool) for i in pair)):
                self.fail(where, f"{key} pairs must be two integers, got {show(pair)}")
            if not all(first <= i < size + first for i in pair):
                self.fail(where, f"{key} pair {show(pair)} is outside {first}..{size + first - 1}"
                          f" ({key} indices count from {first})")
            pairs.append((pair[0] - first, pair[1] - first))
        return pairs

    def rle(self, segmentation: dict, where: str) -> Rle:
        """An RLE segmentation, compressed string or uncompressed run list, as our Rle."""
        size = self.get(segmentation, "size", where + ": segmentation")
        counts = self.get(segmentation, "counts", where + ": segmentation")
        if (not isinstance(size, list) or len(size) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
            self.fail(where, f"segmentation size must be [height, width], got {show(size)}")
        height, width = size
        if isinstance(counts, list):
            if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts):
                self.fail(where, "segmentation counts must be non-negative integers")
            runs, text = counts, runs_to_string(counts)
        elif isinstance(counts, str):
            try:
                runs, text = string_to_runs(counts), counts
            except ValueError as exc:
                self.fail(where, f"segmentation counts is not a valid RLE string ({exc})")
        else:
            self.fail(where, f"segmentation counts must be a string or a list, got {show(counts)}")
        if sum(runs) != height * width or any(r < 0 for r in runs):
            self.fail(where, f"segmentation counts cover {sum(runs)} pixels, "
                      f"size {height}×{width} has {height * width}")
        return Rle(height, width, text)
