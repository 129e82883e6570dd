"""Cleaning imported geometry against the dataset image it lands on, counting every fix.

Stored geometry is absolute pixels inside the image (FORMATS.md §1). What readers hand over is
what the file said, so before anything is written: boxes are clamped to the image and inverted
corners swapped; boxes with no area left are dropped; polygon rings are clamped and dropped when
they have fewer than 3 distinct points or no area; masks must be the image's size and not empty;
keypoints are clamped. Each fix is counted with its first examples for the preview.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from annotations.formats.geometry import clamp, clamp_box, keypoints_box, polygon_box, shoelace
from annotations.formats.records import Annotation, BoxTuple, Keypoint

EXAMPLES = 5
FIXES = {  # key -> what the preview says (one, several), in this order
    "swapped": ("inverted box swapped (xmin > xmax or ymin > ymax)",
                "inverted boxes swapped (xmin > xmax or ymin > ymax)"),
    "clamped": ("box clamped to the image", "boxes clamped to the image"),
    "zero_area": ("zero-area box dropped", "zero-area boxes dropped"),
    "polygon_clamped": ("polygon clamped to the image", "polygons clamped to the image"),
    "degenerate_polygon": ("degenerate polygon dropped (fewer than 3 distinct points, or no "
                           "area)", "degenerate polygons dropped (fewer than 3 distinct points, "
                           "or no area)"),
    "mask_size": ("mask dropped: its size is not the image's",
                  "masks dropped: their size is not the image's"),
    "empty_mask": ("empty mask dropped", "empty masks dropped"),
    "keypoints_clamped": ("keypoint instance with points clamped to the image",
                          "keypoint instances with points clamped to the image"),
    "no_keypoints": ("keypoint instance dropped: no labelled point and no box",
                     "keypoint instances dropped: no labelled point and no box"),
}


@dataclass
class Fixes:
    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, key: str, example: str) -> None:
        self.counts[key] += 1
        shown = self.examples.setdefault(key, [])
        if len(shown) < EXAMPLES:
            shown.append(example)

    def report(self) -> list[dict]:
        return [{"key": key, "text": texts[self.counts[key] != 1], "count": self.counts[key],
                 "examples": self.examples.get(key, [])}
                for key, texts in FIXES.items() if self.counts[key]]


def _show(values) -> str:
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"


def _shows_change(before, after) -> bool:
    """Whether a fix changes a value as the preview prints it: the only fixes worth reporting."""
    return _show(before) != _show(after)


def clean_annotation(a: Annotation, width: int, height: int, where: str,
                     fixes: Fixes) -> Annotation | None:
    """The annotation as it will be stored on a `width`×`height` image, or None to drop it."""
    what = f"{where}: {a.label} {a.kind}"
    if a.kind == "tag":
        return Annotation(label=a.label, kind="tag")
    if a.kind == "box":
        box = clean_box(a.box, width, height, what, fixes) if a.box is not None else None
        return replace(a, box=box) if box is not None else None
    if a.kind == "polygon":
        return _clean_polygon(a, width, height, what, fixes)
    if a.kind == "mask":
        return _clean_mask(a, width, height, what, fixes)
    if a.kind == "keypoints":
        return _clean_keypoints(a, width, height, what, fixes)
    return None


def clean_box(box: BoxTuple, width: int, height: int, what: str,
              fixes: Fixes) -> BoxTuple | None:
    x0, y0, x1, y1 = box
    if x0 > x1 or y0 > y1:
        fixes.add("swapped", f"{what} {_show(box)}")
    clamped = clamp_box(box, width, height)
    ordered = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    if _shows_change(ordered, clamped):  # float noise (240.0000001 → 240) is not reported
        fixes.add("clamped", f"{what} {_show(box)} → {_show(clamped)}")
    if clamped[2] <= clamped[0] or clamped[3] <= clamped[1]:
        fixes.add("zero_area", f"{what} {_show(box)}")
        return None
    return clamped


def clean_ring(ring: list[float], width: int, height: int) -> tuple[list[float] | None, bool]:
    """(the clamped ring or None when degenerate, whether clamping moved a vertex by more than
    float noise)."""
    clamped = [clamp(v, 0, width if i % 2 == 0 else height) for i, v in enumerate(ring)]
    moved = _shows_change(ring, clamped)
    points = {(clamped[i], clamped[i + 1]) for i in range(0, len(clamped) - 1, 2)}
    if len(points) < 3 or shoelace(clamped) <= 0:
        return None, moved
    return clamped, moved


def _clean_polygon(a: Annotation, width: int, height: int, what: str,
                   fixes: Fixes) -> Annotation | None:
    rings, moved = [], False
    for ring in a.polygon or []:
        cleaned, ring_moved = clean_ring(ring, width, height)
        moved = moved or ring_moved
        if cleaned is not None:
            rings.append(cleaned)
    if not rings:
        first = (a.polygon or [[]])[0]
        fixes.add("degenerate_polygon", f"{what} with {len(first) // 2} points")
        return None
    if moved:
        fixes.add("polygon_clamped", what)
    box = clamp_box(a.box, width, height) if a.box is not None else polygon_box(rings)
    if box[2] <= box[0] or box[3] <= box[1]:
        box = polygon_box(rings)
    return replace(a, polygon=rings, box=box)


def _clean_mask(a: Annotation, width: int, height: int, what: str,
                fixes: Fixes) -> Annotation | None:
    from annotations.formats.families.rle import area, rle_box

    mask = a.mask
    if mask is None or (mask.height, mask.width) != (height, width):
        size = f"{mask.width}×{mask.height}" if mask is not None else "no mask"
        fixes.add("mask_size", f"{what} is {size}, the image {width}×{height}")
        return None
    if area(mask) == 0:
        fixes.add("empty_mask", what)
        return None
    box = clamp_box(a.box, width, height) if a.box is not None else rle_box(mask)
    if box[2] <= box[0] or box[3] <= box[1]:
        box = rle_box(mask)
    return replace(a, box=box)


def _clean_keypoints(a: Annotation, width: int, height: int, what: str,
                     fixes: Fixes) -> Annotation | None:
    points, moved = [], False
    for p in a.keypoints or []:
        if p.visibility <= 0:
            points.append(Keypoint(0.0, 0.0, 0))
            continue
        x, y = clamp(p.x, 0, width), clamp(p.y, 0, height)
        moved = moved or _shows_change((p.x, p.y), (x, y))
        points.append(Keypoint(x, y, p.visibility))
    if moved:
        fixes.add("keypoints_clamped", what)
    box = clamp_box(a.box, width, height) if a.box is not None else None
    if box is not None and (box[2] <= box[0] or box[3] <= box[1]):
        box = None
    box = box or keypoints_box(points)
    if box is None:
        fixes.add("no_keypoints", what)
        return None
    return replace(a, keypoints=points, box=box)
