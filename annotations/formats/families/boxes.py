"""The bounding-box fast path: prepared boxes as plain tuples, for the box family's writers.

Most exports are boxes, and most of their time went into building two objects per box (a record
from the database row, a prepared copy of it) before a writer formatted four numbers. On this path
the pipeline hands box writers `BoxImage`s whose boxes are tuples:

    RawBox = (label, xmin, ymin, xmax, ymax)          the stored tight box, absolute, unclamped
    Box    = (label, xmin, ymin, xmax, ymax, area)    clamped to the image, normalised when asked;
                                                      area in square pixels (FORMATS.md §1, §4)

`prepare_boxes` is the one implementation of clamp + normalise + area for boxes: the pipeline's
`prepare_image` uses it too, so the record path (tests, uploads) and the database fast path
(`annotations.mapping`) cannot disagree. A box writer declares `box_fast_path=True` in
its SPEC and exposes `write_boxes(export_set, out)` (its `images` yield BoxImage); it keeps
`write_set` for records, through `box_images`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from annotations.formats.geometry import tight_box
from annotations.formats.records import Annotation, ImageRecord
from annotations.formats.spec import FAMILY_KINDS

RawBox = tuple[str, float, float, float, float]
Box = tuple[str, float, float, float, float, float]
BOX_FAMILY_KINDS = FAMILY_KINDS["boxes"]
NO_BOX = (0.0, 0.0, 0.0, 0.0)


@dataclass(slots=True)
class BoxImage:
    file_name: str
    width: int
    height: int
    id: int | None = None
    ref: str | None = None
    boxes: list[Box] = field(default_factory=list)


def prepare_boxes(raw: Iterable[RawBox], width: int, height: int, normalized: bool) -> list[Box]:
    """Clamp each box to the image (corners in order), then scale; the area is of the clamped
    box in pixels. Same arithmetic, in the same order, as geometry.clamp_box and box_area."""
    sx, sy = (1.0 / width, 1.0 / height) if normalized else (1.0, 1.0)
    boxes = []
    for label, x0, y0, x1, y1 in raw:
        # Most boxes are in order and inside the image, where the steps below change nothing.
        if not (0 <= x0 <= x1 <= width and 0 <= y0 <= y1 <= height):
            if x0 > x1:
                x0, x1 = x1, x0
            if y0 > y1:
                y0, y1 = y1, y0
            x0 = 0 if x0 < 0 else width if x0 > width else x0
            y0 = 0 if y0 < 0 else height if y0 > height else y0
            x1 = 0 if x1 < 0 else width if x1 > width else x1
            y1 = 0 if y1 < 0 else height if y1 > height else y1
        w, h = x1 - x0, y1 - y0
        area = (0.0 if w < 0.0 else w) * (0.0 if h < 0.0 else h)  # max(w, 0.0) * max(h, 0.0)
        boxes.append((label, x0 * sx, y0 * sy, x1 * sx, y1 * sy, area))
    return boxes


def raw_boxes(annotations: Iterable[Annotation]) -> list[RawBox]:
    """The box family's tight boxes of a record's annotations; shapes without one are skipped."""
    found = []
    for a in annotations:
        if a.kind in BOX_FAMILY_KINDS:
            box = tight_box(a)
            if box is not None:
                found.append((a.label, *box))
    return found


def box_images(images: Iterable[ImageRecord]) -> Iterator[BoxImage]:
    """Records whose annotations are already prepared (a writer's `write_set` input) as
    BoxImages, for the same writer's `write_boxes`."""
    for image in images:
        yield BoxImage(image.file_name, image.width, image.height, image.id, image.ref,
                       [(a.label, *(a.box if a.box is not None else NO_BOX), a.area)
                        for a in image.annotations])
