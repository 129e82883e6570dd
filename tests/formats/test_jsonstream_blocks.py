"""The block reader of large JSON arrays gives exactly what the item-at-a-time parser gives:
the same items, and the same refusals, whatever the text (it hands over what it cannot cut)."""

from __future__ import annotations

import re

import pytest

from annotations.formats.errors import FormatError
from annotations.formats.io import jsonstream
from annotations.formats.io.source import MemorySource

CASES = [
    b'{"a": [{"x": 1}, {"x": {"y": "}, {"}}, {"z": [1, 2, {"q": "]"}]}], "b": 2}',
    b'\xef\xbb\xbf{"info": {"a": {"b": "}"}}, "a": [ {"x": 1.5e3} , {"x": -0} ,{"x": "\\"}"} ] }',
    b'{"a": [1, 2, 3]}',
    b'{"a": []}',
    b'{"a": {}}',
    b'{"b": 1}',
    b'{"a": [{"x": NaN}]}',
    b'{"a": [{"x": 1}, {"x": 2}',
    b'{"a": [{"x": 123456789012345678901234567890}]}',
    b'{"a": [{"x": 1}], "a": [{"x": 2}]}',
    b'[{"a": 1}]',
    b'{"a": [{"x": 1}, {"x": 2}], "b": [{"y": 1}, {"y": 2}]}',
    b'{"a": [{"x": 1}, {"x": 2}], "b": [{"y": 1}, {"y": 2}]',
    b'{"a": [{"x": 1}, {"x": 2}], "b": [{"y": 1}, {"y": 2}]} x',
    b'{"b": [{"y": 1}, {"y": 2}], "a": [{"x": 1}, {"x": 2}]}  ',
    b'{"a": [{"x": 1}, {"x": 0.1234567890123456789}]}',
    b'{"a": [{"x": "\xc3\xa9"}], "b": [{"\xc3\xa9": "}]"}]}',
    b'{"n": null, "t": true, "s": "str\\"ing", "num": -1.5e-3, "a": [{"k": "v"}]}',
    b'{"a": [{"x": "\\ud800"}]}',
    b'{"a": [{"x": 1},, {"x": 2}]}',
]


def outcome(read):
    try:
        return "items", read()
    except FormatError as exc:
        return "refused", str(exc)


@pytest.mark.parametrize("text", CASES)
def test_blocks_read_what_the_item_parser_reads(text):
    source = MemorySource({"f.json": text})
    expected = outcome(lambda: list(jsonstream._items(source, "f.json", "a.item")))
    assert outcome(lambda: list(jsonstream.array_items(source, "f.json", "a", whole=True))) \
        == expected
    if expected[0] == "items" and text.count(b'"a"') == 1:
        # without `whole`, reading stops where the array ends (a key given twice: the first)
        assert list(jsonstream.array_items(source, "f.json", "a")) == expected[1]


def test_items_larger_than_a_block_and_many_blocks():
    big = b",".join(b'{"s": "' + b"x" * (jsonstream.CHUNK * 2) + b'"}' for _ in range(3))
    many = b", ".join(b'{"id": %d, "bbox": [1, 2, 3, 4]}' % i for i in range(100_000))
    source = MemorySource({"big.json": b'{"a": [' + big + b'], "b": [' + many + b"]}"})
    index = jsonstream.TopLevel(source, "big.json")
    assert [len(item["s"]) for item in jsonstream.array_items(source, "big.json", "a", index)] \
        == [jsonstream.CHUNK * 2] * 3
    found = list(jsonstream.array_items(source, "big.json", "b", index, whole=True))
    assert [item["id"] for item in found] == list(range(100_000))
    assert index.offsets == {"a": 6, "b": index.offsets["b"]}


SCAN_PATTERNS = {
    "segmentation": re.compile(rb'"segmentation"\s*:\s*(?:\{|\[\s*[\[\d.-])'),
    "keypoints": re.compile(rb'"keypoints"\s*:\s*\[\s*-?[\d.]'),
    "optional": re.compile(rb'"ab*c"'),
    "any case": re.compile(rb'"shapes"', re.IGNORECASE),
    "either": re.compile(rb'"imagePath"|"shapes"'),
}
SCAN_CASES = [
    b'{"segmentation": [], "keypoints": []}',
    b'{"segmentation": [], "x": 1, "segmentation": [[1, 2]]}',  # the key's first match fails
    b'{"keypoints" : [ -3, 1]}',
    b'{"ac": 1, "SHAPES": 2}',
    b'{"abbbc": 1, "Shapes": []}',
    b'{"segmentation":{"counts": "x"}}',
    b'["segmentation": [1]]',
    b'{"shapes": []}',
]


@pytest.mark.parametrize("text", SCAN_CASES)
def test_scan_finds_what_the_regular_expressions_find(text):
    expected = {name for name, pattern in SCAN_PATTERNS.items() if pattern.search(text)}
    source = MemorySource({"a.json": text})
    assert jsonstream.scan(source, "a.json", SCAN_PATTERNS, starts=b"{") == (
        expected if text.startswith(b"{") else set())


def test_scan_finds_a_key_that_spans_two_chunks(monkeypatch):
    monkeypatch.setattr(jsonstream, "CHUNK", 64)
    text = b'{"x": "' + b"." * 50 + b'", "segmentation": [[1, 2, 3]]}'
    source = MemorySource({"a.json": text})
    assert jsonstream.scan(source, "a.json", SCAN_PATTERNS, starts=b"{") == {"segmentation"}
