"""COCO object detection (boxes): one `_annotations.coco.json` per set (FORMATS.md §4 COCO).

    <top>/train/_annotations.coco.json   images, categories (id from 1), annotations with bbox
    <top>/train/<file>                   the images, beside the JSON

`segmentation` is `[]`; polygons, masks and keypoint instances are exported as their tight box.
The writer and reader shared by the three COCO variants live in coco_writer.py / coco_reader.py.
"""

from __future__ import annotations

from annotations.formats.families.coco_reader import read_coco, sniff
from annotations.formats.families.coco_writer import write_coco_boxes
from annotations.formats.io.source import Source
from annotations.formats.records import ReadResult
from annotations.formats.spec import ExportSet, FormatSpec, ReadContext, ZipSink

SPEC = FormatSpec(
    id="coco",
    name="COCO",
    family="boxes",
    box_fast_path=True,
    normalized=False,
    description="One COCO JSON of boxes per set; pycocotools, Detectron2 and MMDetection read it.",
    normalized_warning="COCO readers expect absolute pixels; normalized boxes will not train.",
)


def write_boxes(export_set: ExportSet, out: ZipSink) -> None:
    write_coco_boxes(export_set, out)


def read(source: Source, context: ReadContext) -> ReadResult:
    return read_coco(source, context, "boxes")


def detect(source: Source) -> int:
    found = sniff(source)
    if not found.found:
        return 0
    # Any COCO file reads as boxes, but a richer variant is the better guess when it applies.
    return 70 if found.segmentation or found.keypoints else 90
