"""LabelMe (labelme 5.5 JSON): one annotation file per image, beside the image.

    <top>/train/<stem>.json     {"version": "5.5.0", "flags": {}, "shapes": [...],
                                 "imagePath": "<file>", "imageData": null,
                                 "imageHeight": h, "imageWidth": w}
    <top>/train/<file>          the image, when Include images is on

A shape is {"label", "points", "group_id": null, "description": "", "shape_type", "flags": {}}:
polygons are `polygon` (one shape per ring), boxes `rectangle` (two corners), masks `mask` with
labelme's `mask` field, a base64 PNG (0/1, mode L) of the mask's box, whose `points` are the first
and last pixel of that box, inclusive. Import matches `imagePath` by file name only.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from annotations.formats import numbers
from annotations.formats.errors import FormatError
from annotations.formats.families import coco_reader, rle
from annotations.formats.geometry import polygon_box
from annotations.formats.io import jsonio, jsonstream
from annotations.formats.io.source import Source
from annotations.formats.naming import split_name
from annotations.formats.records import Annotation, ImageRecord, ReadResult, Rle
from annotations.formats.spec import ExportSet, FormatSpec, ReadContext, ZipSink, put_image

if TYPE_CHECKING:  # numpy only when a mask is written or read
    import numpy as np

SPEC = FormatSpec(
    id="polygon_single",
    name="LabelMe",
    family="polygons",
    writes={"box": "box", "polygon": "polygon", "mask": "mask"},  # boxes as rectangle shapes
    normalized=False,
    description="One LabelMe JSON per image with polygons, rectangles and masks; opens in "
    "labelme for review and editing.",
    normalized_warning="labelme and its converters expect pixel coordinates; fractions will "
    "draw every shape in the image's top-left pixel.",
)
VERSION = "5.5.0"
DETECT_PEEK = 20  # JSON files looked into by detect(); a LabelMe export is all alike
_KEYS = {"shapes": re.compile(rb'"shapes"'), "imagePath": re.compile(rb'"imagePath"')}


def write_set(export_set: ExportSet, out: ZipSink) -> None:
    number = numbers.formatter(export_set.normalized)
    for image in export_set.images:
        shapes = [t for a in image.annotations for t in _shape_texts(a, image, export_set, number)]
        # What jsonio.dumps(document, number, indent=2) writes, assembled from text: the generic
        # encoder costs a few calls per vertex (tests/formats golden files, test_labelme_text).
        text = ('{\n  "version": ' + _string(VERSION) + ',\n  "flags": {},\n  "shapes": '
                + ("[\n    " + ",\n    ".join(shapes) + "\n  ]" if shapes else "[]")
                + ',\n  "imagePath": ' + jsonio.dumps(image.file_name, number)
                + ',\n  "imageData": null,\n  "imageHeight": ' + jsonio.dumps(image.height, number)
                + ',\n  "imageWidth": ' + jsonio.dumps(image.width, number) + "\n}\n")
        stem = split_name(image.file_name)[0]
        out.add_bytes(f"{export_set.folder}{stem}.json", text)
        put_image(export_set, out, image)


def _document(image: ImageRecord, export_set: ExportSet) -> dict:
    """The LabelMe document of one prepared image (what write_set writes, as a dict)."""
    return {
        "version": VERSION,
        "flags": {},
        "shapes": [s for a in image.annotations for s in _shapes(a, image, export_set)],
        "imagePath": image.file_name,
        "imageData": None,
        "imageHeight": image.height,
        "imageWidth": image.width,
    }


_string = jsonio._encode_str
_POINT_SEP = "\n        ],\n        [\n          "


def _shape_texts(a: Annotation, image: ImageRecord, export_set: ExportSet,
                 number) -> list[str]:
    """Each shape of `a` as jsonio writes it inside the document (indent 2, level 2)."""
    is_mask = a.kind == "mask" and a.mask is not None
    if a.polygon and not is_mask:
        rings = a.polygon
        shape_type = "polygon"
    elif a.box is not None and not is_mask:
        x0, y0, x1, y1 = a.box
        rings = [[x0, y0, x1, y1]]
        shape_type = "rectangle"
    else:
        return [_generic_shape(s, number) for s in _shapes(a, image, export_set)]
    head = '{\n      "label": ' + _string(a.label) + ',\n      "points": '
    tail = (',\n      "group_id": null,\n      "description": "",\n      "shape_type": "'
            + shape_type + '",\n      "flags": {}\n    }')
    texts = []
    for ring in rings:
        values = ring[:len(ring) - len(ring) % 2]  # a dangling x has no point
        if not values:
            texts.append(head + "[]" + tail)
            continue
        if not all(type(v) is float for v in values):  # ints, bools: the encoder's own forms
            texts.append(_generic_shape(
                _shape(a.label, [[ring[i], ring[i + 1]] for i in range(0, len(ring) - 1, 2)],
                       shape_type), number))
            continue
        formatted = [number(v) for v in values]
        points = _POINT_SEP.join(map(",\n          ".join,
                                     zip(formatted[0::2], formatted[1::2], strict=True)))
        if "n" in points:  # nan, inf: let the encoder refuse them
            jsonio.dumps(values, number)
        texts.append(head + "[\n        [\n          " + points + "\n        ]\n      ]" + tail)
    return texts


def _generic_shape(shape: dict, number) -> str:
    parts: list[str] = []
    jsonio._emit(shape, number, 2, 2, parts)
    return "".join(parts)


def _shapes(a: Annotation, image: ImageRecord, export_set: ExportSet) -> list[dict]:
    if a.kind == "mask" and a.mask is not None:
        shape = _mask_shape(a, image, export_set.normalized)
        return [shape] if shape else []
    if a.polygon:
        return [_shape(a.label, [[r[i], r[i + 1]] for i in range(0, len(r) - 1, 2)], "polygon")
                for r in a.polygon]
    if a.box is not None:
        x0, y0, x1, y1 = a.box
        return [_shape(a.label, [[x0, y0], [x1, y1]], "rectangle")]
    return []


def _shape(label: str, points: list, shape_type: str) -> dict:
    return {"label": label, "points": points, "group_id": None, "description": "",
            "shape_type": shape_type, "flags": {}}


def _mask_shape(a: Annotation, image: ImageRecord, normalized: bool) -> dict | None:
    import numpy as np

    grid = rle.decode(a.mask)
    ys, xs = np.nonzero(grid)
    if xs.size == 0:
        return None  # labelme cannot hold an empty mask: it has no first and last pixel
    x1, y1, x2, y2 = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
    corners: list[list[float]] = [[x1, y1], [x2, y2]]
    if normalized:  # every x over the width, every y over the height (FORMATS.md §1)
        corners = [[x / image.width, y / image.height] for x, y in corners]
    shape = _shape(a.label, corners, "mask")
    shape["mask"] = _png_base64(grid[y1:y2 + 1, x1:x2 + 1])
    return shape


def _png_base64(grid: np.ndarray) -> str:
    """labelme's utils.img_arr_to_b64 of a 0/1 uint8 array: a mode L PNG, base64."""
    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(grid, dtype=np.uint8)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def detect(source: Source) -> int:
    # manifest.json is left out by its content, not its name: an image may be called manifest.jpg.
    # A COCO file (images, annotations and categories at the top) is not scanned again: one
    # of 150 MB took 0.3 s to read to its end for "shapes".
    coco_files = set(coco_reader.sniff(source).coco_files)
    candidates = [p for p in source.files()
                  if p.lower().endswith(".json") and p not in coco_files]
    for path in candidates[:DETECT_PEEK]:
        if jsonstream.scan(source, path, _KEYS, starts=b"{") != set(_KEYS):
            continue  # read in chunks first: a large COCO file is never held in memory here
        try:
            document = jsonio.loads_untrusted(source.read(path), path)
        except FormatError:
            continue
        if isinstance(document, dict) and "shapes" in document and "imagePath" in document:
            return 90
    return 0


def read(source: Source, context: ReadContext) -> ReadResult:
    files = []
    for path in source.files():
        if not path.lower().endswith(".json"):
            continue
        document = jsonio.loads_untrusted(source.read(path), path)
        if isinstance(document, dict) and "shapes" in document and "imagePath" in document:
            files.append(_parse_file(path, document, context))
    # An export writes every file with one setting: fractions when every coordinate is <= 1.
    values = [v for f in files for *_, points in f.raw for point in points for v in point]
    normalized = bool(values) and max(values) <= 1.0
    notes: list[str] = []
    images = [_build_image(f, normalized, notes) for f in files]
    labels = list(dict.fromkeys(a.label for image in images for a in image.annotations))
    return ReadResult(images=images, labels=labels, notes=notes)


@dataclass(slots=True)
class _File:
    path: str
    image: ImageRecord
    shapes: list
    raw: list[tuple[int, str, str, list]]  # (shape number, label, shape_type, points)


def _parse_file(path: str, document: dict, context: ReadContext) -> _File:
    image_path = document.get("imagePath")
    if not isinstance(image_path, str) or not image_path.strip():
        raise FormatError(path, "imagePath is not a file name")
    # A name to match, never a path to open: labelme may write "..\\images\\a.jpg".
    file_name = image_path.replace("\\", "/").rsplit("/", 1)[-1]
    width, height = _size(path, document, context, file_name)
    shapes = document["shapes"]
    if not isinstance(shapes, list):
        raise FormatError(path, "shapes is not a list")
    raw = [_raw_shape(path, number, shape) for number, shape in enumerate(shapes, start=1)]
    return _File(path, ImageRecord(file_name=file_name, width=width, height=height), shapes, raw)


def _build_image(f: _File, normalized: bool, notes: list[str]) -> ImageRecord:
    scale = (f.image.width, f.image.height) if normalized else None
    skipped = set()
    for number, label, kind, points in f.raw:
        annotation = _annotation(f.path, number, label, kind, points, f.shapes[number - 1],
                                 f.image, scale)
        if annotation is None:
            skipped.add(kind)
        else:
            f.image.annotations.append(annotation)
    if skipped:
        notes.append(f"{f.path}: skipped shapes of type {', '.join(sorted(skipped))}")
    return f.image


def _size(path: str, document: dict, context: ReadContext, file_name: str) -> tuple[int, int]:
    width, height = document.get("imageWidth"), document.get("imageHeight")
    if all(type(v) is int and v > 0 for v in (width, height)):  # bool is an int: refused
        return width, height
    size = context.size_of(file_name)
    if size is None:
        raise FormatError(path, "imageWidth/imageHeight are missing and the dataset has no "
                          f"image {file_name!r}")
    return size


def _raw_shape(path: str, number: int, shape: object) -> tuple[int, str, str, list]:
    if not isinstance(shape, dict) or not isinstance(shape.get("label"), str):
        raise FormatError(path, "a shape needs a label", record=f"shape {number}")
    kind = shape.get("shape_type") or "polygon"
    return number, shape["label"].strip(), str(kind), _points(path, number, shape.get("points"))


def _points(path: str, number: int, points: object) -> list[tuple[float, float]]:
    try:
        parsed = [(float(x), float(y)) for x, y in points]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise FormatError(path, "points must be [[x, y], ...] numbers",
                          record=f"shape {number}") from None
    if not all(math.isfinite(v) for point in parsed for v in point):
        raise FormatError(path, "NaN or infinite point", record=f"shape {number}")
    return parsed


def _annotation(path: str, number: int, label: str, kind: str, points: list, shape: dict,
                image: ImageRecord, scale: tuple[int, int] | None) -> Annotation | None:
    sx, sy = scale or (1, 1)
    points = [(x * sx, y * sy) for x, y in points]
    if kind == "polygon" and len(points) >= 3:
        ring = [v for point in points for v in point]
        return Annotation(label=label, kind="polygon", polygon=[ring], box=polygon_box([ring]))
    if kind == "rectangle" and len(points) == 2:
        (xa, ya), (xb, yb) = points
        return Annotation(label=label, kind="box",
                          box=(min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb)))
    if kind == "mask" and len(points) == 2:
        # labelme places the PNG at int(x1), int(y1); fractions come back by rounding.
        x, y = min(p[0] for p in points), min(p[1] for p in points)
        x, y = (round(x), round(y)) if scale else (int(x), int(y))
        mask = _place_mask(path, number, shape.get("mask"), x, y, image)
        return Annotation(label=label, kind="mask", mask=mask, box=rle.rle_box(mask))
    if kind in ("polygon", "rectangle", "mask"):
        raise FormatError(path, f"a {kind} with {len(points)} points", record=f"shape {number}")
    return None  # circle, line, linestrip, point: nothing of the polygons family


def _place_mask(path: str, number: int, data: object, x: int, y: int,
                image: ImageRecord) -> Rle:
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    where = f"shape {number}"
    try:
        png = Image.open(io.BytesIO(base64.b64decode(str(data), validate=True)))
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError):
        raise FormatError(path, "the mask field is not a base64 PNG", record=where) from None
    w, h = png.size  # from the header: an oversized PNG is refused before it is decoded
    if x < 0 or y < 0 or x + w > image.width or y + h > image.height:
        raise FormatError(path, f"the {w}x{h} mask at ({x}, {y}) does not fit the "
                          f"{image.width}x{image.height} image", record=where)
    try:
        crop = (np.asarray(png.convert("L")) > 0).astype(np.uint8)
    except (OSError, SyntaxError, ValueError):
        raise FormatError(path, "the mask PNG cannot be decoded", record=where) from None
    grid = np.zeros((image.height, image.width), dtype=np.uint8)
    grid[y:y + h, x:x + w] = crop
    return rle.encode(grid)
