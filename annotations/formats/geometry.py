"""Geometry helpers shared by readers, writers and the export pipeline."""

from __future__ import annotations

from collections.abc import Iterable

from annotations.formats.records import Annotation, BoxTuple, Keypoint


def clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


def clamp_box(box: BoxTuple, width: float, height: float) -> BoxTuple:
    x0, y0, x1, y1 = box
    if x0 > x1:
        x0, x1 = x1, x0
    if y0 > y1:
        y0, y1 = y1, y0
    return (clamp(x0, 0, width), clamp(y0, 0, height), clamp(x1, 0, width), clamp(y1, 0, height))


def box_of_points(xs: Iterable[float], ys: Iterable[float]) -> BoxTuple:
    xs, ys = list(xs), list(ys)
    return (min(xs), min(ys), max(xs), max(ys))


def polygon_box(rings: list[list[float]]) -> BoxTuple:
    flat = [v for ring in rings for v in ring]
    return box_of_points(flat[0::2], flat[1::2])


def keypoints_box(points: list[Keypoint]) -> BoxTuple | None:
    labelled = [p for p in points if p.visibility > 0]
    if not labelled:
        return None
    return box_of_points((p.x for p in labelled), (p.y for p in labelled))


def shoelace(ring: list[float]) -> float:
    xs, ys = ring[0::2], ring[1::2]
    n = len(xs)
    total = 0.0
    for i in range(n):
        j = (i + 1) % n
        total += xs[i] * ys[j] - xs[j] * ys[i]
    return abs(total) / 2.0


def polygon_area(rings: list[list[float]]) -> float:
    return sum(shoelace(ring) for ring in rings)


def box_area(box: BoxTuple) -> float:
    return max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)


def rectangle_ring(box: BoxTuple) -> list[float]:
    """A box as a 4-vertex polygon, clockwise from the top-left (image coordinates)."""
    x0, y0, x1, y1 = box
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def tight_box(annotation: Annotation) -> BoxTuple | None:
    """The annotation's box, computed from its geometry when a reader did not set it."""
    if annotation.box is not None:
        return annotation.box
    if annotation.polygon:
        return polygon_box(annotation.polygon)
    if annotation.keypoints:
        return keypoints_box(annotation.keypoints)
    if annotation.mask is not None:
        from annotations.formats.families.rle import rle_box

        return rle_box(annotation.mask)
    return None
