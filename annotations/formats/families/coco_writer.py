"""The COCO writer shared by `coco`, `polygon_coco` and `keypoints_coco` (FORMATS.md §4 COCO).

    <top>/train/_annotations.coco.json   info, licenses, images, categories, annotations
    <top>/train/<file>                   the images, beside the JSON

The JSON is streamed: image entries go straight into the member while annotation entries go to a
spool file in the zip's work folder, copied in after the categories, so a million annotations
never sit in memory. One entry per line keeps diffs of golden files readable.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from typing import Any, Literal

from annotations.formats import numbers
from annotations.formats.families.boxes import BoxImage
from annotations.formats.geometry import rectangle_ring
from annotations.formats.records import Annotation, ImageRecord
from annotations.formats.spec import ExportSet, ZipSink, put_image

Variant = Literal["boxes", "polygons", "keypoints"]
ANNOTATION_FILE = "_annotations.coco.json"
# COCO requires a supercategory; Nexus labels have no hierarchy, so every category gets this one
# (Roboflow writes the same word), which keeps pycocotools' getCatIds(supNms=...) usable.
SUPERCATEGORY = "none"

_string = json.JSONEncoder(ensure_ascii=False).encode
Number = Callable[[float], str]


def write_coco_set(export_set: ExportSet, out: ZipSink, variant: Variant) -> None:
    """Write the set's `_annotations.coco.json` (and its images) for one COCO variant."""
    fmt = numbers.formatter(export_set.normalized)
    category_ids = {name: i for i, name in enumerate(export_set.label_names, start=1)}

    def entries(image: ImageRecord, image_id: int, last_id: int) -> list[str]:
        return [_annotation_entry(annotation_id, image_id, category_ids[a.label], a, variant, fmt)
                for annotation_id, a in enumerate(image.annotations, start=last_id + 1)]

    _write_json(export_set, out, variant, entries)


def write_coco_boxes(export_set: ExportSet, out: ZipSink) -> None:
    """`coco` from BoxImages (boxes.py): the same JSON as write_coco_set(..., "boxes")."""
    fmt = numbers.formatter(export_set.normalized)
    area = numbers.format_absolute
    category_ids = {name: i for i, name in enumerate(export_set.label_names, start=1)}

    def entries(image: BoxImage, image_id: int, last_id: int) -> list[str]:
        return [f'{{"id": {annotation_id}, "image_id": {image_id}, "category_id": '
                f'{category_ids[label]}, "bbox": [{fmt(x0)}, {fmt(y0)}, {fmt(x1 - x0)}, '
                f'{fmt(y1 - y0)}], "area": {area(pixels or 0.0)}, "iscrowd": 0, '
                f'"segmentation": []}}'
                for annotation_id, (label, x0, y0, x1, y1, pixels)
                in enumerate(image.boxes, start=last_id + 1)]

    _write_json(export_set, out, "boxes", entries)


def _write_json(export_set: ExportSet, out: ZipSink, variant: Variant,
                entries_of: Callable[[Any, int, int], list[str]]) -> None:
    """The one JSON body: `entries_of(image, image_id, last annotation id)` gives the image's
    annotation entries, numbered on from the last id."""
    spool = out.new_work_path()
    with out.open_text(export_set.folder + ANNOTATION_FILE) as doc, \
            open(spool, "w+", encoding="utf-8", newline="", buffering=1 << 20) as annotations:
        doc.write("{\n" + f'  "info": {_info(export_set)},\n  "licenses": [],\n  "images": [')
        annotation_id = image_id = 0
        for image_id, image in enumerate(export_set.images, start=1):
            doc.write(("\n    " if image_id == 1 else ",\n    ") + _image_entry(image_id, image))
            entries = entries_of(image, image_id, annotation_id)
            if entries:
                annotations.write(("\n    " if annotation_id == 0 else ",\n    ")
                                  + ",\n    ".join(entries))
                annotation_id += len(entries)
            put_image(export_set, out, image)
        doc.write("\n  ],\n" if image_id else "],\n")
        doc.write('  "categories": [' + _categories(export_set, variant) + '],\n')
        doc.write('  "annotations": [')
        annotations.seek(0)
        shutil.copyfileobj(annotations, doc, 1 << 20)
        doc.write("\n  ]\n}\n" if annotation_id else "]\n}\n")


def _info(export_set: ExportSet) -> str:
    # The export's top folder names dataset, format and time, so a JSON that has left its zip
    # still says where it came from; no wall-clock time here keeps exports byte-identical.
    top = export_set.folder.split("/", 1)[0]
    return ('{"description": ' + _string(f"{top} ({export_set.name} set)")
            + ', "contributor": "Nexus"}')


def _image_entry(image_id: int, image: ImageRecord | BoxImage) -> str:
    return (f'{{"id": {image_id}, "file_name": {_string(image.file_name)}, '
            f'"width": {image.width}, "height": {image.height}}}')


def _categories(export_set: ExportSet, variant: Variant) -> str:
    skeletons = {s.label: s for s in export_set.skeletons}
    entries = []
    for category_id, name in enumerate(export_set.label_names, start=1):
        entry = (f'{{"id": {category_id}, "name": {_string(name)}, '
                 f'"supercategory": "{SUPERCATEGORY}"')
        if variant == "keypoints":
            # Every category carries both keys (empty for labels without a skeleton), so
            # readers that index cats[i]["keypoints"] never fail.
            skeleton = skeletons.get(name)
            names = skeleton.keypoints if skeleton else []
            pairs = skeleton.connections if skeleton else []
            entry += (', "keypoints": [' + ", ".join(_string(n) for n in names) + "]"
                      + ', "skeleton": [' + ", ".join(f"[{a + 1}, {b + 1}]" for a, b in pairs)
                      + "]")
        entries.append(entry + "}")
    if not entries:
        return ""
    return "\n    " + ",\n    ".join(entries) + "\n  "


def _annotation_entry(annotation_id: int, image_id: int, category_id: int, a: Annotation,
                      variant: Variant, fmt: Number) -> str:
    x0, y0, x1, y1 = a.box if a.box is not None else (0.0, 0.0, 0.0, 0.0)
    iscrowd, segmentation = 0, "[]"
    if variant == "polygons":
        iscrowd, segmentation = _segmentation(a, fmt)
    # area is square pixels even when the coordinates are normalized (COCOeval's size buckets).
    entry = (f'{{"id": {annotation_id}, "image_id": {image_id}, "category_id": {category_id}, '
             f'"bbox": [{fmt(x0)}, {fmt(y0)}, {fmt(x1 - x0)}, {fmt(y1 - y0)}], '
             f'"area": {numbers.format_absolute(a.area or 0.0)}, "iscrowd": {iscrowd}, '
             f'"segmentation": {segmentation}')
    if variant == "keypoints":
        flat, labelled = _keypoints(a.keypoints or [], fmt)
        entry += f', "keypoints": [{flat}], "num_keypoints": {labelled}'
    return entry + "}"


# The first step of each formatter: most values need no stripping, so the call is made only for
# the others (the same string: `fmt` starts with exactly this %-format).
_SPECS = {numbers.format_absolute: "%.2f", numbers.format_normalized: "%.6f"}


def _keypoints(points: list, fmt: Number) -> tuple[str, int]:
    """The flat `x, y, v` list ("0, 0, 0" for points not labelled) and the labelled count."""
    spec = _SPECS.get(fmt)
    if spec is None:
        return (", ".join(f"{fmt(p.x)}, {fmt(p.y)}, {p.visibility}" if p.visibility > 0
                          else "0, 0, 0" for p in points),
                sum(1 for p in points if p.visibility > 0))
    parts, labelled = [], 0
    for p in points:
        v = p.visibility
        if v > 0:
            labelled += 1
            x, y = spec % p.x, spec % p.y
            if x[-1] == "0":
                x = fmt(p.x)
            if y[-1] == "0":
                y = fmt(p.y)
            parts.append(f"{x}, {y}, {v}")
        else:
            parts.append("0, 0, 0")
    return ", ".join(parts), labelled


def _segmentation(a: Annotation, fmt: Number) -> tuple[int, str]:
    """(iscrowd, segmentation JSON): masks as RLE with iscrowd 1, everything else as polygons."""
    if a.kind == "mask" and a.mask is not None:
        # RLE stays in pixels whatever the normalisation: it is a bitmap, not coordinates.
        mask = a.mask
        return 1, (f'{{"size": [{mask.height}, {mask.width}], '
                   f'"counts": {_string(mask.counts)}}}')
    # pycocotools reads a 4-value ring as a box and fails on shorter ones: keep real polygons.
    rings = [ring for ring in (a.polygon or []) if len(ring) >= 6]
    if not rings and a.box is not None:
        rings = [rectangle_ring(a.box)]
    return 0, "[" + ", ".join("[" + ", ".join(fmt(v) for v in ring) + "]"
                              for ring in rings) + "]"

