"""CreateML object detection: one JSON array per set (FORMATS.md §4 CreateML).

    <top>/train/_annotations.createml.json
        [{"image": "a.jpg", "annotations": [{"label": "car",
          "coordinates": {"x": 60.25, "y": 120.13, "width": 100.5, "height": 200.25}}]}]
    <top>/train/<file>                     the images, beside the JSON

`x, y` is the box centre (Apple's convention); an image without boxes keeps its entry with an
empty `annotations` list. Reading: any JSON array of such entries; top-left variants are not
guessed. A file whose every coordinate is <= 1 is read as normalized and scaled by the dataset's
image sizes (the file has none). Images the dataset does not know come back with size 0×0.
"""

from __future__ import annotations

import json
import posixpath
import re

from annotations.formats import numbers
from annotations.formats.errors import FormatError
from annotations.formats.families.boxes import BoxImage
from annotations.formats.families.coco_check import Checker, show
from annotations.formats.io import jsonio, jsonstream
from annotations.formats.io.source import Source
from annotations.formats.records import Annotation, ImageRecord, ReadResult
from annotations.formats.spec import ExportSet, ReadContext, ZipSink, box_format, put_image

SPEC = box_format(
    "createml", "CreateML",
    "A JSON array of images with centre boxes per set; Apple Create ML trains on it.",
    normalized_warning="Create ML expects absolute pixels; normalized boxes will not train.",
)
ANNOTATION_FILE = "_annotations.createml.json"
NOT_CREATEML = ("manifest.json", "skeletons.json")
_KEYS = {key: re.compile(rb'"%s"\s*:' % key.encode()) for key in ("image", "annotations")}
_string = json.JSONEncoder(ensure_ascii=False).encode
Box = tuple[str, float, float, float, float]  # label, centre x, centre y, width, height


def write_boxes(export_set: ExportSet, out: ZipSink) -> None:
    """The set from BoxImages (boxes.py)."""
    fmt = numbers.formatter(export_set.normalized)
    labels: dict[str, str] = {}
    with out.open_text(export_set.folder + ANNOTATION_FILE) as doc:
        doc.write("[")
        for index, image in enumerate(export_set.images):
            doc.write(("\n  " if index == 0 else ",\n  ") + _entry(image, fmt, labels))
            put_image(export_set, out, image)
        doc.write("\n]\n")


def _entry(image: BoxImage, fmt, labels: dict[str, str]) -> str:
    boxes = []
    for label, x0, y0, x1, y1, _ in image.boxes:
        text = labels.get(label)
        if text is None:
            text = labels[label] = _string(label)
        boxes.append(f'{{"label": {text}, "coordinates": {{'
                     f'"x": {fmt((x0 + x1) / 2)}, "y": {fmt((y0 + y1) / 2)}, '
                     f'"width": {fmt(x1 - x0)}, "height": {fmt(y1 - y0)}}}}}')
    if not boxes:
        return f'{{"image": {_string(image.file_name)}, "annotations": []}}'
    return (f'{{"image": {_string(image.file_name)}, "annotations": [\n    '
            + ",\n    ".join(boxes) + "\n  ]}")


def detect(source: Source) -> int:
    best = 0
    for path in _candidates(source):
        best = max(best, 90 if path.endswith(".createml.json") else 70)
    return best


def _candidates(source: Source) -> list[str]:
    found = []
    for path in source.files():
        if not path.lower().endswith(".json") or posixpath.basename(path) in NOT_CREATEML:
            continue
        if jsonstream.scan(source, path, _KEYS, starts=b"[") == set(_KEYS):
            found.append(path)
    return found


def read(source: Source, context: ReadContext) -> ReadResult:
    paths = _candidates(source)
    if not paths:
        raise FormatError("upload", 'no CreateML file found (a JSON array of {"image", '
                          '"annotations"} objects)')
    result = ReadResult(images=[])
    for path in paths:
        entries = _parse(path, jsonio.loads_untrusted(source.read(path), path))
        values = [v for _, _, boxes in entries for box in boxes for v in box[1:]]
        normalized = bool(values) and max(values) <= 1.0
        for number, file_name, boxes in entries:
            result.images.append(_image(path, number, file_name, boxes, context, normalized))
            for box in boxes:
                if box[0] not in result.labels:
                    result.labels.append(box[0])
    return result


def _parse(path: str, document: object) -> list[tuple[int, str, list[Box]]]:
    check = Checker(path)
    if not isinstance(document, list):
        check.fail("the file", f"expected a JSON array of images, got {show(document)}")
    entries = []
    for number, record in enumerate(document, start=1):
        where = f"record {number}"
        if not isinstance(record, dict):
            check.fail(where, f"expected an object, got {show(record)}")
        # The name is matched against the dataset, never opened as a path.
        file_name = posixpath.basename(check.text(record, "image", where).replace("\\", "/"))
        items = check.get(record, "annotations", where)
        if not isinstance(items, list):
            check.fail(where, f"annotations must be a list, got {show(items)}")
        entries.append((number, file_name, [_box(check, item, f"{where} annotation {index}")
                                            for index, item in enumerate(items, start=1)]))
    return entries


def _box(check: Checker, item: object, where: str) -> Box:
    if not isinstance(item, dict):
        check.fail(where, f"expected an object, got {show(item)}")
    label = check.text(item, "label", where).strip()
    coordinates = check.get(item, "coordinates", where)
    if not isinstance(coordinates, dict):
        check.fail(where, f"coordinates must be an object, got {show(coordinates)}")
    x, y, w, h = (check.number(coordinates, key, f"{where} coordinates")
                  for key in ("x", "y", "width", "height"))
    if w < 0 or h < 0:
        check.fail(where, f"width and height must not be negative, got {w:g}, {h:g}")
    return label, x, y, w, h


def _image(path: str, number: int, file_name: str, boxes: list[Box], context: ReadContext,
           normalized: bool) -> ImageRecord:
    size = context.size_of(file_name)
    if size is None and normalized and boxes:
        raise FormatError(path, f"record {number}: no image {file_name!r} in the dataset, so "
                          "its normalized boxes cannot be placed")
    width, height = size or (0, 0)
    sx, sy = (width, height) if normalized else (1, 1)
    annotations = [Annotation(label=label, kind="box",
                              box=((x - w / 2) * sx, (y - h / 2) * sy,
                                   (x + w / 2) * sx, (y + h / 2) * sy))
                   for label, x, y, w, h in boxes]
    return ImageRecord(file_name=file_name, width=width, height=height, annotations=annotations)
