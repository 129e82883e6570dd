"""YOLO Keras PyTorch: one line per image, `<file> x1,y1,x2,y2,class ...` (FORMATS.md §4).

    <top>/train/_annotations.txt    street.jpg 10,20,110,220,0 0,0,50,40,0
                                    empty.jpg
    <top>/train/_classes.txt        one class name a line, line index = class id (0-based)
    <top>/train/<file>              the images, beside the list (Include images)

The line format of keras-yolo3 (qqwweee) and the PyTorch YOLOv3/v4 ports: whole pixels (Python
`round`), corners, 0-based class; with Normalized on the corners are fractions. Fields are split on
whitespace, so the pipeline renames files whose names contain whitespace. On import a file name
is everything before the trailing comma-separated box fields, so names with spaces written by
other tools still read.
"""

from __future__ import annotations

import math
import posixpath
import re

from annotations.formats.errors import FormatError
from annotations.formats.io.sizes import SizeLookup, all_fractions, scale_box
from annotations.formats.io.source import Source
from annotations.formats.naming import RenameRules
from annotations.formats.numbers import format_normalized
from annotations.formats.records import Annotation, ImageRecord, ReadResult
from annotations.formats.spec import ExportSet, ReadContext, ZipSink, box_format, put_image

SPEC = box_format(
    "yolo_keras_pytorch", "YOLO Keras PyTorch",
    "One _annotations.txt per set, a line per image with x1,y1,x2,y2,class pixel "
    "boxes, plus _classes.txt; keras-yolo3 and PyTorch YOLOv3/v4 loaders read it.",
    rename=RenameRules(whitespace=True),
    normalized_warning="YOLO Keras readers expect whole pixels; Normalized writes fractions, "
    "which standard readers reject.",
)
ANNOTATIONS = "_annotations.txt"
CLASSES = "_classes.txt"
_FIELD = re.compile(r"\S+")

Box = tuple[str, tuple[float, float, float, float]]


def write_boxes(export_set: ExportSet, out: ZipSink) -> None:
    """The set from BoxImages (boxes.py)."""
    folder = export_set.folder
    out.add_bytes(folder + CLASSES, "".join(f"{name}\n" for name in export_set.label_names))
    number = format_normalized if export_set.normalized else _whole_pixels
    index = export_set.class_index
    with out.open_text(folder + ANNOTATIONS) as handle:
        for image in export_set.images:
            boxes = "".join([f" {number(x0)},{number(y0)},{number(x1)},{number(y1)},{index[label]}"
                             for label, x0, y0, x1, y1, _ in image.boxes])
            handle.write(f"{image.file_name}{boxes}\n")
            put_image(export_set, out, image)


def _whole_pixels(value: float) -> str:
    return str(round(value))


def detect(source: Source) -> int:
    files = source.files()
    best = 0
    for path in files:
        if posixpath.basename(path) != ANNOTATIONS:
            continue
        if not _looks_like_lines(source, path):
            best = max(best, 20)  # the name fits, the content does not
            continue
        beside = posixpath.join(posixpath.dirname(path), CLASSES)
        best = max(best, 90 if beside in files else 70)
    return best


def _looks_like_lines(source: Source, path: str, sample: int = 50) -> bool:
    """The first lines parse, and hold a box or are bare file names: a line of plain numbers
    ("0 0.5 0.5 0.1 0.1", YOLO Darknet) would otherwise pass as a file name with spaces."""
    try:
        lines = [line for line in source.text(path).splitlines() if line.strip()][:sample]
        parsed = [_parse_line(line, [], path, 1, lenient=True) for line in lines]
    except FormatError:
        return False
    return any(boxes for _, boxes in parsed) or all(len(n.split()) == 1 for n, _ in parsed)


def read(source: Source, context: ReadContext) -> ReadResult:
    parsed: dict[tuple[str, str], tuple[int, list[Box]]] = {}  # (file, image) -> first line, boxes
    all_names: dict[str, None] = {}
    for path in source.files():
        if posixpath.basename(path) != ANNOTATIONS:
            continue
        names = _class_names(source, path) or list(context.labels)
        all_names.update(dict.fromkeys(names))
        for number, line in enumerate(source.text(path).splitlines(), start=1):
            if not line.strip():
                continue
            file_name, boxes = _parse_line(line, names, path, number)
            parsed.setdefault((path, file_name), (number, []))[1].extend(boxes)
    normalized = all_fractions([v for _, boxes in parsed.values() for _, box in boxes
                                for v in box])
    lookup = SizeLookup(source, context)
    images = [_image((path, name), line, boxes, lookup, normalized)
              for (path, name), (line, boxes) in parsed.items()]
    return ReadResult(images=images, labels=list(all_names), notes=lookup.notes())


def _image(key: tuple[str, str], line: int, boxes: list[Box], lookup: SizeLookup,
           normalized: bool) -> ImageRecord:
    path, file_name = key
    if normalized and boxes and lookup.size(file_name) is None:
        raise FormatError(path, f"no image {file_name!r} in the dataset, so its normalized "
                          "boxes cannot be placed", line=line)
    width, height = lookup.size_or_unknown(file_name)
    annotations = [Annotation(label=label, kind="box",
                              box=scale_box(box, width, height, normalized))
                   for label, box in boxes]
    return ImageRecord(file_name=file_name, width=width, height=height, annotations=annotations)


def _class_names(source: Source, annotations_path: str) -> list[str]:
    """`_classes.txt` beside the list, else the first one anywhere in the upload."""
    files = source.files()
    beside = posixpath.join(posixpath.dirname(annotations_path), CLASSES)
    candidates = [beside] if beside in files else [p for p in files
                                                    if posixpath.basename(p) == CLASSES]
    if not candidates:
        return []
    return [line.strip() for line in source.text(candidates[0]).splitlines() if line.strip()]


def _parse_line(line: str, names: list[str], path: str, number: int,
                lenient: bool = False) -> tuple[str, list[Box]]:
    """The file name is every field before the trailing run of comma-separated box fields."""
    fields = list(_FIELD.finditer(line))
    first_box = len(fields)
    while first_box > 1 and "," in fields[first_box - 1].group():
        first_box -= 1
    file_name = line[fields[0].start():fields[first_box - 1].end()]
    boxes = [_parse_box(f.group(), names, path, number, lenient) for f in fields[first_box:]]
    return file_name, boxes


def _parse_box(text: str, names: list[str], path: str, number: int, lenient: bool) -> Box:
    parts = text.split(",")
    if len(parts) != 5:
        raise FormatError(path, f"box {text!r} is not x1,y1,x2,y2,class", line=number)
    try:
        coords = tuple(float(p) for p in parts[:4])
    except ValueError:
        raise FormatError(path, f"box {text!r} has a coordinate that is not a number",
                          line=number) from None
    if not all(math.isfinite(v) for v in coords):
        raise FormatError(path, f"box {text!r} has a NaN or infinite coordinate", line=number)
    if not parts[4].isdigit():
        raise FormatError(path, f"box {text!r}: class {parts[4]!r} is not a whole number "
                          "from 0", line=number)
    class_id = int(parts[4])
    if lenient:
        return "", coords  # detection: the class list is not needed to recognise the shape
    if not names:
        raise FormatError(path, f"class id {class_id} cannot be named: no {CLASSES} in the "
                          "upload", line=number)
    if class_id >= len(names):
        raise FormatError(path, f"class id {class_id} is not in the class list "
                          f"({len(names)} classes)", line=number)
    return names[class_id], coords
