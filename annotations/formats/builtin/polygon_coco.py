"""COCO polygons / masks: `coco` with `segmentation` (FORMATS.md §4 COCO).

    <top>/train/_annotations.coco.json   annotations with segmentation:
                                         polygons [[x1, y1, ...]] iscrowd 0,
                                         masks {"size": [h, w], "counts"} iscrowd 1,
                                         boxes as 4-vertex rectangle polygons iscrowd 0
    <top>/train/<file>

`area` is the polygon's shoelace area, the mask's pixel count or the box area, in square pixels.
Reading: masks come back as masks, polygons (rectangles included) as polygons, annotations
without a segmentation as boxes.
"""

from __future__ import annotations

from annotations.formats.families.coco_reader import detect_variant, read_coco
from annotations.formats.families.coco_writer import write_coco_set
from annotations.formats.io.source import Source
from annotations.formats.records import ReadResult
from annotations.formats.spec import ExportSet, FormatSpec, ReadContext, ZipSink

SPEC = FormatSpec(
    id="polygon_coco",
    name="COCO Polygons / Masks",
    family="polygons",
    normalized=False,
    description="COCO JSON with polygon and RLE mask segmentations; pycocotools, Detectron2 "
    "and MMDetection train instance segmentation on it.",
    normalized_warning="COCO readers expect absolute pixels; normalized polygons will not "
    "rasterise.",
)


def write_set(export_set: ExportSet, out: ZipSink) -> None:
    write_coco_set(export_set, out, "polygons")


def read(source: Source, context: ReadContext) -> ReadResult:
    return read_coco(source, context, "polygons")


def detect(source: Source) -> int:
    return detect_variant(source, "polygons")
