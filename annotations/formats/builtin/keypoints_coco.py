"""COCO keypoints: `coco` with keypoint instances (FORMATS.md §4 COCO, §5).

    <top>/skeletons.json                 the dataset's skeletons (written by the pipeline)
    <top>/train/_annotations.coco.json   categories with keypoints (names) and skeleton
                                         (1-based pairs); annotations with keypoints
                                         [x, y, v, ...] (v = 0 written 0, 0, 0) and num_keypoints
    <top>/train/<file>

Every category has `keypoints` and `skeleton`, empty for labels without a skeleton. Reading takes
skeletons from the categories, and from skeletons.json (with flip pairs) when it is present.
"""

from __future__ import annotations

from annotations.formats.families.coco_reader import detect_variant, read_coco
from annotations.formats.families.coco_writer import write_coco_set
from annotations.formats.io.source import Source
from annotations.formats.records import ReadResult
from annotations.formats.spec import ExportSet, FormatSpec, ReadContext, ZipSink

SPEC = FormatSpec(
    id="keypoints_coco",
    name="COCO Keypoint",
    family="keypoints",
    normalized=False,
    description="COCO JSON of keypoint instances with their skeletons; pycocotools, "
    "Detectron2 and MMPose read it.",
    ships_skeletons=True,
    normalized_warning="COCO readers expect absolute pixels; normalized keypoints will not "
    "evaluate.",
)


def write_set(export_set: ExportSet, out: ZipSink) -> None:
    write_coco_set(export_set, out, "keypoints")


def read(source: Source, context: ReadContext) -> ReadResult:
    return read_coco(source, context, "keypoints")


def detect(source: Source) -> int:
    return detect_variant(source, "keypoints")
