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

import math
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, NoReturn
from weakref import WeakKeyDictionary

from annotations.formats.errors import FormatError
from annotations.formats.families.coco_check import Checker, is_number, show
from annotations.formats.families.rle import rle_box
from annotations.formats.families.skeletons_file import read_skeletons_file
from annotations.formats.io import jsonio, jsonstream
from annotations.formats.io.collector import fewer_collections
from annotations.formats.io.source import Source
from annotations.formats.naming import split_folder
from annotations.formats.records import Annotation, ImageRecord, Keypoint, ReadResult, Skeleton
from annotations.formats.spec import ReadContext

Mode = Literal["boxes", "polygons", "keypoints"]
NOT_COCO = ("manifest.json", "skeletons.json")
_PLAIN = (int, float)  # JSON numbers (bool is neither)
_NONE = object()  # a key that is not there
_PATTERNS = {
    **{key: re.compile(rb'"%s"\s*:' % key.encode()) for key in ("images", "annotations",
                                                               "categories")},
    # Two patterns, not one alternation: each starts with a literal, which the regex engine
    # looks for directly (together 19 ms per 15 MB of boxes instead of 31 ms).
    "num_keypoints": re.compile(rb'"num_keypoints"\s*:'),
    "keypoints": re.compile(rb'"keypoints"\s*:\s*\[\s*-?[\d.]'),
    "segmentation": re.compile(rb'"segmentation"\s*:\s*(?:\{|\[\s*[\[\d.-])'),
}


@dataclass(frozen=True, slots=True)
class Sniff:
    """What a cheap byte scan of an upload's JSON files found (no parsing)."""

    found: bool = False
    segmentation: bool = False
    keypoints: bool = False
    coco_files: tuple[str, ...] = ()


# detect() runs once per COCO variant over the same upload: scan its files once.
_sniffs: WeakKeyDictionary[Source, Sniff] = WeakKeyDictionary()


def sniff(source: Source) -> Sniff:
    if source in _sniffs:
        return _sniffs[source]
    coco_files, segmentation, keypoints = [], False, False
    for path in _json_files(source):
        found = jsonstream.scan(source, path, _PATTERNS, starts=b"{")
        if {"images", "annotations", "categories"} <= found:
            coco_files.append(path)
            segmentation = segmentation or "segmentation" in found
            keypoints = keypoints or "keypoints" in found or "num_keypoints" in found
    result = Sniff(bool(coco_files), segmentation, keypoints, tuple(coco_files))
    _sniffs[source] = result
    return result


def detect_variant(source: Source, mode: Mode) -> int:
    """How sure the COCO variant `mode` is of `source`: any COCO file reads as boxes, but the
    variant whose fields the file fills is the better guess."""
    found = sniff(source)
    if not found.found:
        return 0
    if mode == "boxes":
        return 70 if found.segmentation or found.keypoints else 90
    if mode == "polygons":
        return (80 if found.keypoints else 90) if found.segmentation else 60
    return 90 if found.keypoints else 40


def _json_files(source: Source) -> list[str]:
    return [p for p in source.files()
            if p.lower().endswith(".json") and posixpath.basename(p) not in NOT_COCO]


def read_coco(source: Source, context: ReadContext, mode: Mode) -> ReadResult:
    """Every COCO file of the upload, each annotation as the kind `mode` asks for.

    Categories (labels, skeletons) are read first; images follow as a list, or lazily when
    `context.stream` asks for it. Files larger together than `context.stream_bytes` are parsed
    as a stream, an annotation at a time, and an image's annotations then come as consecutive
    runs (an image may come back more than once when the file does not keep them together)."""
    paths = sniff(source).coco_files
    if not paths:
        raise FormatError("upload", "no COCO file found (a JSON object with images, "
                          "annotations and categories)")
    streamed = sum(source.size(p) for p in paths) > context.stream_bytes
    files = [(_StreamedFile if streamed else _ParsedFile)(source, path) for path in paths]
    result = ReadResult(images=[])
    skeletons: dict[str, Skeleton] = {}
    readers = [_DocumentReader(file, context, mode) for file in files]
    for reader in readers:
        reader.read_categories(result, skeletons)
    if mode == "keypoints":
        for path in source.files():
            if posixpath.basename(path) == "skeletons.json":
                skeletons.update((s.label, s) for s in read_skeletons_file(source, path))
        result.skeletons = list(skeletons.values())
    images = _all_images(readers, result)
    result.images = images if context.stream else list(images)
    return result


def _all_images(readers: list[_DocumentReader], result: ReadResult) -> Iterator[ImageRecord]:
    for reader in readers:
        yield from reader.read_images()
        reader.file.release()
        if reader.skipped_rings:
            result.notes.append(f"{reader.check.path}: skipped {reader.skipped_rings} "
                                "polygon(s) with fewer than 3 points")


class _ParsedFile:
    """A COCO file parsed whole (small files: one fast parse)."""

    grouped = True  # every image's annotations in one record, as the file lists the images

    def __init__(self, source: Source, path: str) -> None:
        self.path = path
        with fewer_collections():
            self.document = jsonio.loads_untrusted(source.read(path), path)
        if not isinstance(self.document, dict):
            Checker(path).fail("the file", "expected a JSON object with images, annotations "
                               "and categories")

    def records(self, key: str, whole: bool = False) -> Iterator[tuple[int, dict]]:
        return Checker(self.path).records(self.document, key)

    def release(self) -> None:
        self.document = {}


class _StreamedFile:
    """A COCO file read as a stream, one array at a time (large files: flat memory)."""

    grouped = False

    def __init__(self, source: Source, path: str) -> None:
        self.source, self.path = source, path
        self.index = jsonstream.TopLevel(source, path)  # where each array starts

    def records(self, key: str, whole: bool = False) -> Iterator[tuple[int, dict]]:
        check, number = Checker(self.path), 0
        for block in jsonstream.array_blocks(self.source, self.path, key, self.index, whole):
            for record in block:
                number += 1
                if type(record) is not dict:
                    check.fail(f"{key} record {number}", f"expected an object, got "
                               f"{show(record)}")
                yield number, record
        if number == 0:  # no items: an empty list, or no list at all (then small enough to build)
            values = list(jsonstream.values(self.source, self.path, key))
            if not values:
                check.fail("the file", f"missing key {key!r}")
            if not isinstance(values[0], list):
                check.fail("the file", f"{key} must be a list, got {show(values[0])}")

    def release(self) -> None:
        self.index.close()


@dataclass(slots=True)
class _Category:
    name: str
    keypoints: list[str]


class _DocumentReader:
    def __init__(self, file: _ParsedFile | _StreamedFile, context: ReadContext,
                 mode: Mode) -> None:
        self.file = file
        self.check = Checker(file.path)
        self.context, self.mode = context, mode
        self.categories: dict[int, _Category] = {}
        self.folders: dict[int, str] = {}  # image id -> the folders its file_name gave, if any
        self.skipped_rings = 0

    def read_categories(self, result: ReadResult, skeletons: dict[str, Skeleton]) -> None:
        for number, record in self.file.records("categories"):
            where = f"categories record {number}"
            category_id = self.check.integer(record, "id", where)
            if category_id in self.categories:
                self.check.fail(where, f"id {category_id} is used by an earlier category")
            name = self.check.text(record, "name", where).strip()
            names: list[str] = []
            if self.mode == "keypoints" and record.get("keypoints"):
                names = self.check.strings(record, "keypoints", where)
                pairs = self.check.pairs(record.get("skeleton") or [], len(names), where)
                skeletons.setdefault(name, Skeleton(label=name, keypoints=names,
                                                    connections=pairs,
                                                    flip_pairs=mirrored_pairs(names)))
            self.categories[category_id] = _Category(name, names)
            if name not in result.labels:
                result.labels.append(name)

    def read_images(self) -> Iterator[ImageRecord]:
        """The file's images with their annotations: all of an image's together when the file
        was parsed whole, else as the runs of consecutive annotations the stream gives."""
        images = self._images()
        normalized = self._is_normalized(images)
        by_id: dict[int, ImageRecord] = {}  # parsed whole: every image's annotations together
        pending, pending_id, seen = None, None, set()  # streamed: the current run
        grouped, boxes, categories = self.file.grouped, self.mode == "boxes", self.categories
        for number, record in self.file.records("annotations", whole=True):
            get = record.get
            image_id, category_id = get("image_id"), get("category_id")
            entry = images.get(image_id) if type(image_id) is int else None
            category = categories.get(category_id) if type(category_id) is int else None
            if type(get("id")) is not int or entry is None or category is None:
                self._refuse(record, number, images)
            if grouped:
                image = by_id.get(image_id) or by_id.setdefault(image_id,
                                                                self._record(image_id, entry))
            elif image_id != pending_id:
                if pending is not None:
                    yield _finished(pending, normalized)
                image = pending = self._record(image_id, entry)
                pending_id = image_id
                seen.add(image_id)
            # A plain box (four finite numbers, width and height not negative, a finite area
            # or none) is checked here without a call per check; anything else by _annotation,
            # whose checks say what is wrong.
            bbox, area = get("bbox"), get("area", _NONE)
            if boxes and type(bbox) is list and len(bbox) == 4 and (
                    type(area) is float or type(area) is int or area is _NONE):
                x, y, w, h = bbox
                if (type(x) in _PLAIN and type(y) in _PLAIN and type(w) in _PLAIN
                        and type(h) in _PLAIN and w >= 0 and h >= 0
                        and math.isfinite(x + y + w + h + (0 if area is _NONE else area))):
                    x, y = float(x), float(y)
                    image.annotations.append(Annotation(
                        category.name, "box", (x, y, x + float(w), y + float(h)), None, None,
                        None, None if area is _NONE else float(area)))
                    continue
            image.annotations.append(self._annotation(record, number, category, image))
        if pending is not None:
            yield _finished(pending, normalized)
        for image_id, entry in images.items():
            if self.file.grouped:
                yield _finished(by_id.get(image_id) or self._record(image_id, entry),
                                normalized)
            elif image_id not in seen:
                yield self._record(image_id, entry)

    def _record(self, image_id: int, entry: tuple[str, int, int]) -> ImageRecord:
        return ImageRecord(*entry, folder=self.folders.get(image_id, ""))

    def _refuse(self, record: dict, number: int, images: dict) -> NoReturn:
        """What is wrong with an annotation record's ids, checked in this order."""
        where = f"annotations record {number}"
        self.check.integer(record, "id", where)  # pycocotools indexes annotations by id
        image_id = self.check.integer(record, "image_id", where)
        if image_id not in images:
            self.check.fail(where, f"image_id {image_id} is not in images")
        category_id = self.check.integer(record, "category_id", where)
        self.check.fail(where, f"category_id {category_id} is not in categories")

    def _images(self) -> dict[int, tuple[str, int, int]]:
        """id -> (file name, width, height): compact, a large file may list a million."""
        images: dict[int, tuple[str, int, int]] = {}
        for number, record in self.file.records("images"):
            where = f"images record {number}"
            image_id = self.check.integer(record, "id", where)
            if image_id in images:
                self.check.fail(where, f"id {image_id} is used by an earlier image")
            # Paths such as "train2017/0001.jpg" are names to match, never paths to open: the
            # image is matched by file name, folders ignored (annotations/matching.py).
            folder, file_name = split_folder(self.check.text(record, "file_name", where))
            width, height = self._size(record, where, file_name)
            images[image_id] = (file_name, width, height)
            if folder:
                self.folders[image_id] = folder
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

    def _annotation(self, record: dict, number: int, category: _Category,
                    image: ImageRecord) -> Annotation:
        where = f"annotations record {number}"
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
            points.append(Keypoint(x, y, int(v)) if v > 0 else Keypoint(0.0, 0.0, 0))
        return points

    def _coordinates(self, value: object, what: str, where: str,
                     count: int | None = None) -> list[float]:
        return self.check.numbers(value, what, where, count=count)

    def _is_normalized(self, images: dict[int, tuple[str, int, int]]) -> bool:
        """Normalized: the file has coordinates, none above 1, and every image with annotations
        is larger than 1×1. Decided before the annotations are read, by a pass that stops at the
        first coordinate above 1 (at once, for a file in pixels)."""
        has_coordinates, annotated = False, set()
        for _, record in self.file.records("annotations"):
            for value in _coordinate_values(record, self.mode):
                if is_number(value):
                    if value > 1:
                        return False
                    has_coordinates = True
            annotated.add(record.get("image_id"))
        return has_coordinates and all(images[i][1] > 1 and images[i][2] > 1
                                       for i in annotated if i in images)


def _coordinate_values(record: dict, mode: Mode) -> Iterator[object]:
    """The values the reader takes as coordinates: bbox; rings (polygons); visible keypoints."""
    bbox = record.get("bbox")
    if isinstance(bbox, list):
        yield from bbox
    segmentation, points = record.get("segmentation"), record.get("keypoints")
    if mode == "polygons" and isinstance(segmentation, list):
        for ring in segmentation:
            if isinstance(ring, list):
                yield from ring
    if mode == "keypoints" and isinstance(points, list):
        for i in range(0, len(points) - 2, 3):
            if is_number(points[i + 2]) and points[i + 2] > 0:
                yield points[i]
                yield points[i + 1]


def _finished(image: ImageRecord, normalized: bool) -> ImageRecord:
    if normalized:
        _denormalize(image)
    return image


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


_SIDES = (("left", "right"), ("Left", "Right"), ("LEFT", "RIGHT"))


def mirrored_pairs(names: list[str]) -> list[tuple[int, int]]:
    """Points whose names differ only by left/right (COCO's `left_eye` / `right_eye`): COCO files
    carry no flip pairs, and a horizontal flip in training must swap these (YOLO pose's
    `flip_idx`). A skeletons.json in the upload still overrides them."""
    index = {name: i for i, name in enumerate(names)}
    pairs = []
    for i, name in enumerate(names):
        for left, right in _SIDES:
            if left in name:
                j = index.get(name.replace(left, right, 1))
                if j is not None and j != i:
                    pairs.append((min(i, j), max(i, j)))
    return sorted(set(pairs))
