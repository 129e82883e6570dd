"""COCO object detection (boxes): one `_annotations.coco.json` per set (FORMATS.md §4 COCO).

    <top>/train/_annotations.coco.json   images, categories (id from 1), annotations with bbox
    <top>/train/<file>                   the images, beside the JSON

`segmentation` is `[]`; polygons, masks and keypoint instances are exported as their tight box.
The writer and reader shared by the three COCO variants live in coco_writer.py / coco_reader.py.
"""

from __future__ import annotations

from annotations.formats.families.coco_reader import detect_variant, read_coco
from annotations.formats.families.coco_writer import write_coco_boxes
from annotations.formats.io.source import Source
from annotations.formats.records import ReadResult
from annotations.formats.spec import ExportSet, ReadContext, ZipSink, box_format

SPEC = box_format(
    "coco", "COCO",
    "One COCO JSON of boxes per set; pycocotools, Detectron2 and MMDetection read it.",
    normalized_warning="COCO readers expect absolute pixels; normalized boxes will not train.",
)


def write_boxes(export_set: ExportSet, out: ZipSink) -> None:
    write_coco_boxes(export_set, out)


def read(source: Source, context: ReadContext) -> ReadResult:
    return read_coco(source, context, "boxes")


def detect(source: Source) -> int:
    return detect_variant(source, "boxes")
