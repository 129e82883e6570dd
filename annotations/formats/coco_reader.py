"""Reading COCO JSON for `coco`, `polygon_coco` and `keypoints_coco`, and telling them apart.

Any `.json` whose top level has `images`, `annotations` and `categories` keys is read, whatever
its name or folder (`train/_annotations.coco.json`, `annotations/instances_val2017.json`). Errors
name the file and the record: "annotations record 3: image_id 99 is not in images" (records are
counted from 1 within their array).

Normalized input: a file is read as normalized when it has at least one coordinate, every bbox,
polygon and keypoint value is <= 1, and every image that has annotations is larger than 1×1
pixel; its coordinates are then multiplied by the width and height its `images` entry gives.
RLE masks are bitmaps and never normalized.
"""

from __future__ import annotations

import gc
import posixpath
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal
from weakref import WeakKeyDictionary

from . import jsonio
from .coco_check import Checker
from .errors import FormatError
from .records import Annotation, ImageRecord, Keypoint, ReadResult, Skeleton
from .rle import rle_box
from .skeletons_file import read_skeletons_file
from .source import Source
from .spec import ReadContext

Mode = Literal["boxes", "polygons", "keypoints"]
NOT_COCO = ("manifest.json", "skeletons.json")
_KEYS = tuple(re.compile(rb'"%s"\s*:' % key) for key in (b"images", b"annotations", b"categories"))
_KEYPOINTS = re.compile(rb'"num_keypoints"\s*:|"keypoints"\s*:\s*\[\s*-?[\d.]')
_SEGMENTATION = re.compile(rb'"segmentation"\s*:\s*(?:\{|\[\s*[\[\d.-])')


@dataclass(frozen=True, slots=True)
class Sniff:
    """What a cheap byte scan of an upload's JSON files found (no parsing)."""

    found: bool = False
    segmentation: bool = False
    keypoints: bool = False


# detect() runs once per COCO variant over the same upload: scan its files once.
_sniffs: WeakKeyDictionary[Source, Sniff] = WeakKeyDictionary()


def sniff(source: Source) -> Sniff:
    if source in _sniffs:
        return _sniffs[source]
    found = segmentation = keypoints = False
    for path in _json_files(source):
        data = source.read(path)
        if _looks_like_coco(data):
            found = True
            segmentation = segmentation or bool(_SEGMENTATION.search(data))
            keypoints = keypoints or bool(_KEYPOINTS.search(data))
    result = Sniff(found, segmentation, keypoints)
    _sniffs[source] = result
    return result


def _json_files(source: Source) -> list[str]:
    return [p for p in source.files()
            if p.lower().endswith(".json") and posixpath.basename(p) not in NOT_COCO]


def _looks_like_coco(data: bytes) -> bool:
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{") and all(key.search(data) for key in _KEYS)


@contextmanager
def _no_gc() -> Iterator[None]:
    # Building millions of small objects triggers needless collections (2x slower, STACK.md).
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_coco(source: Source, context: ReadContext, mode: Mode) -> ReadResult:
    """Every COCO file of the upload, each annotation as the kind `mode` asks for."""
    result = ReadResult(images=[])
    skeletons: dict[str, Skeleton] = {}
    found = False
    for path in _json_files(source):
        data = source.read(path)
        if not _looks_like_coco(data):
            continue
        found = True
        with _no_gc():
            document = jsonio.loads_untrusted(data, path)
            del data  # the parsed document is large enough on its own
            _DocumentReader(path, context, mode).read(document, result, skeletons)
    if not found:
        raise FormatError("upload", "no COCO file found (a JSON object with images, "
                          "annotations and categories)")
    if mode == "keypoints":
        for path in source.files():
            if posixpath.basename(path) == "skeletons.json":
                skeletons.update((s.label, s) for s in read_skeletons_file(source, path))
        result.skeletons = list(skeletons.values())
    return result


@dataclass(slots=True)
class _Category:
    name: str
    keypoints: list[str]


class _DocumentReader:
    def __init__(self, path: str, context: ReadContext, mode: Mode) -> None:
        self.check = Checker(path)
        self.context, self.mode = context, mode
        self.largest = 0.0  # the largest coordinate seen, to tell normalized files
        self.has_coordinates = False
        self.skipped_rings = 0

    def read(self, document: object, result: ReadResult, skeletons: dict[str, Skeleton]) -> None:
        if not isinstance(document, dict):
            self.check.fail("the file", "expected a JSON object with images, annotations and "
                            "categories")
        categories = self._categories(document, skeletons)
        images = self._images(document)
        for number, record in self.check.records(document, "annotations"):
            where = f"annotations record {number}"
            self.check.integer(record, "id", where)  # pycocotools indexes annotations by id
            image_id = self.check.integer(record, "image_id", where)
            image = images.get(image_id)
            if image is None:
                self.check.fail(where, f"image_id {image_id} is not in images")
            category_id = self.check.integer(record, "category_id", where)
            if category_id not in categories:
                self.check.fail(where, f"category_id {category_id} is not in categories")
            image.annotations.append(self._annotation(record, where, categories[category_id],
                                                      image))
        if self._is_normalized(images.values()):
            for image in images.values():
                _denormalize(image)
        for category in categories.values():
            if category.name not in result.labels:
                result.labels.append(category.name)
        result.images.extend(images.values())
        if self.skipped_rings:
            result.notes.append(f"{self.check.path}: skipped {self.skipped_rings} polygon(s) "
                                "with fewer than 3 points")

    def _categories(self, document: dict, skeletons: dict[str, Skeleton]) -> dict[int, _Category]:
        categories: dict[int, _Category] = {}
        for number, record in self.check.records(document, "categories"):
            where = f"categories record {number}"
            category_id = self.check.integer(record, "id", where)
            if category_id in categories:
                self.check.fail(where, f"id {category_id} is used by an earlier category")
            name = self.check.text(record, "name", where).strip()
            names: list[str] = []
            if self.mode == "keypoints" and record.get("keypoints"):
                names = self.check.strings(record, "keypoints", where)
                pairs = self.check.pairs(record.get("skeleton") or [], len(names), where)
                skeletons.setdefault(name, Skeleton(label=name, keypoints=names,
                                                    connections=pairs))
            categories[category_id] = _Category(name, names)
        return categories

    def _images(self, document: dict) -> dict[int, ImageRecord]:
        images: dict[int, ImageRecord] = {}
        for number, record in self.check.records(document, "images"):
            where = f"images record {number}"
            image_id = self.check.integer(record, "id", where)
            if image_id in images:
                self.check.fail(where, f"id {image_id} is used by an earlier image")
            # Paths such as "train2017/0001.jpg" are names to match, never paths to open.
            file_name = posixpath.basename(self.check.text(record, "file_name", where)
                                           .replace("\\", "/"))
            width, height = self._size(record, where, file_name)
            images[image_id] = ImageRecord(file_name=file_name, width=width, height=height)
        return images

    def _size(self, record: dict, where: str, file_name: str) -> tuple[int, int]:
        if "width" not in record and "height" not in record:
            size = self.context.size_of(file_name)
            if size is None:
                self.check.fail(where, f"missing width and height, and the dataset has no "
                                f"image {file_name!r} to take them from")
            return size
        width = self.check.integer(record, "width", where)
        height = self.check.integer(record, "height", where)
        if width <= 0 or height <= 0:
            self.check.fail(where, f"width and height must be positive, got {width}×{height}")
        return width, height

    def _annotation(self, record: dict, where: str, category: _Category,
                    image: ImageRecord) -> Annotation:
        box = self._bbox(record, where)
        area = self.check.optional_number(record, "area", where)
        if self.mode == "keypoints" and "keypoints" in record:
            points = self._keypoints(record, where, category)
            return Annotation(category.name, "keypoints", box=box, keypoints=points, area=area)
        if self.mode == "polygons":
            segmentation = record.get("segmentation")
            if isinstance(segmentation, dict):
                mask = self.check.rle(segmentation, where)
                if (mask.height, mask.width) != (image.height, image.width):
                    self.check.fail(where, f"mask size {mask.height}×{mask.width} differs from "
                                    f"the image's {image.height}×{image.width}")
                return Annotation(category.name, "mask", box=box or rle_box(mask), mask=mask,
                                  area=area)
            rings = self._rings(segmentation, where)
            if rings:
                return Annotation(category.name, "polygon", box=box, polygon=rings, area=area)
        if box is None:
            self.check.fail(where, "missing key 'bbox'")
        return Annotation(category.name, "box", box=box, area=area)

    def _bbox(self, record: dict, where: str) -> tuple[float, float, float, float] | None:
        if "bbox" not in record:
            return None
        x, y, w, h = self._coordinates(record["bbox"], "bbox", where, count=4)
        if w < 0 or h < 0:
            self.check.fail(where, f"bbox width and height must not be negative, got {w}, {h}")
        return (x, y, x + w, y + h)

    def _rings(self, segmentation: object, where: str) -> list[list[float]]:
        if segmentation in (None, []):
            return []
        if not isinstance(segmentation, list) or not all(isinstance(r, list) for r in segmentation):
            self.check.fail(where, "segmentation must be a list of polygons or an RLE object")
        rings = []
        for index, ring in enumerate(segmentation, start=1):
            values = self._coordinates(ring, f"polygon {index}", where)
            if len(values) % 2:
                self.check.fail(where, f"polygon {index} has an odd number of values")
            if len(values) >= 6:
                rings.append(values)
            else:  # COCO 2017 holds a few 1- and 2-point rings: they enclose nothing
                self.skipped_rings += 1
        return rings

    def _keypoints(self, record: dict, where: str, category: _Category) -> list[Keypoint]:
        values = self.check.numbers(record["keypoints"], "keypoints", where)
        if len(values) % 3:
            self.check.fail(where, f"keypoints has {len(values)} values, not a multiple of 3")
        if category.keypoints and len(values) != 3 * len(category.keypoints):
            self.check.fail(where, f"{len(values) // 3} keypoints, but category "
                            f"{category.name!r} names {len(category.keypoints)}")
        points = []
        for i in range(0, len(values), 3):
            x, y, v = values[i:i + 3]
            if v not in (0, 1, 2):
                self.check.fail(where, f"keypoint {i // 3 + 1} has visibility {v:g}; "
                                "expected 0, 1 or 2")
            if v > 0:
                self._note_coordinates([x, y])
            points.append(Keypoint(x, y, int(v)) if v > 0 else Keypoint(0.0, 0.0, 0))
        return points

    def _coordinates(self, value: object, what: str, where: str,
                     count: int | None = None) -> list[float]:
        values = self.check.numbers(value, what, where, count=count)
        self._note_coordinates(values)
        return values

    def _note_coordinates(self, values: list[float]) -> None:
        if values:
            self.has_coordinates = True
            self.largest = max(self.largest, max(values))

    def _is_normalized(self, images) -> bool:
        if not self.has_coordinates or self.largest > 1.0:
            return False
        return all(i.width > 1 and i.height > 1 for i in images if i.annotations)


def _denormalize(image: ImageRecord) -> None:
    w, h = image.width, image.height
    for a in image.annotations:
        if a.box is not None:
            a.box = (a.box[0] * w, a.box[1] * h, a.box[2] * w, a.box[3] * h)
        if a.polygon and a.kind == "polygon":
            a.polygon = [[v * (w if i % 2 == 0 else h) for i, v in enumerate(ring)]
                         for ring in a.polygon]
        for p in a.keypoints or []:
            if p.visibility > 0:
                p.x, p.y = p.x * w, p.y * h
