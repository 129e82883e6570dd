"""Masks as polygons and several polygons as one (YOLO Segmentation has one line per shape).

`outer_contours` traces the outline of each connected region of a mask along the pixel edges
(pixel-corner coordinates: a pixel (row r, column c) covers x in [c, c + 1], y in [r, r + 1]),
4-connected, holes ignored, collinear vertices dropped; plain numpy, no OpenCV.
`merge_parts` joins the parts of a shape into one ring the way Ultralytics' COCO converter does
(`merge_multi_segment`: each part connected to the next at their closest vertices, walked there
and back), so an export converts exactly like Ultralytics' own tooling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported when a mask or a multi-part shape is written
    import numpy as np

# Unit steps along a pixel edge, in image coordinates (y down), and their right-hand turns.
_RIGHT = {(1, 0): (0, 1), (0, 1): (-1, 0), (-1, 0): (0, -1), (0, -1): (1, 0)}


def outer_contours(grid: np.ndarray) -> list[list[float]]:
    """Each 4-connected region's outer outline as a flat ring [x1, y1, …], clockwise on screen,
    starting at its top-left corner; regions in the order of their top-left pixel."""
    import numpy as np

    mask = np.pad(np.asarray(grid, dtype=bool), 1)
    inside = mask[1:-1, 1:-1]
    # Each boundary edge runs with the region on its right (screen coordinates): top edges
    # eastward, right edges southward, bottom edges westward, left edges northward.
    edges: dict[tuple[int, int], list[tuple[int, int]]] = {}
    sides = (
        (inside & ~mask[:-2, 1:-1], (0, 0), (1, 0)),  # top
        (inside & ~mask[1:-1, 2:], (1, 0), (0, 1)),  # right
        (inside & ~mask[2:, 1:-1], (1, 1), (-1, 0)),  # bottom
        (inside & ~mask[1:-1, :-2], (0, 1), (0, -1)),  # left
    )
    for where, (ox, oy), step in sides:
        rows, cols = np.nonzero(where)
        for x, y in zip((cols + ox).tolist(), (rows + oy).tolist(), strict=True):
            edges.setdefault((x, y), []).append(step)
    rings = []
    for start in sorted(edges, key=lambda p: (p[1], p[0])):
        while edges.get(start):
            ring = _walk(edges, start)
            if _signed_area(ring) > 0:  # holes run the other way round
                rings.append(ring)
    return rings


def _walk(edges: dict[tuple[int, int], list[tuple[int, int]]],
          start: tuple[int, int]) -> list[float]:
    """Follow unused edges from `start` until back at it; at a vertex shared by two diagonal
    pixels turn right (towards the region), which keeps diagonal neighbours apart."""
    point, heading, first = start, None, None
    corners: list[tuple[int, int]] = []
    while True:
        steps = edges[point]
        step = _RIGHT[heading] if heading is not None and len(steps) > 1 \
            and _RIGHT[heading] in steps else steps[0]
        steps.remove(step)
        if not steps:
            del edges[point]
        if step != heading:
            corners.append(point)
        heading, first = step, first or step
        point = (point[0] + step[0], point[1] + step[1])
        if point == start:
            break
    if heading == first:
        corners.pop(0)  # the start lies on a straight run, not at a corner
    return [float(v) for corner in corners for v in corner]


def _signed_area(ring: list[float]) -> float:
    """Shoelace area, positive for rings that run clockwise on screen (y down)."""
    xs, ys = ring[0::2], ring[1::2]
    return 0.5 * sum(xs[i - 1] * ys[i] - xs[i] * ys[i - 1] for i in range(len(xs)))


def merge_parts(parts: list[list[float]], scale: tuple[float, float] = (1.0, 1.0)
                ) -> list[float]:
    """Ultralytics' `merge_multi_segment` over flat rings; distances are measured after
    multiplying x and y by `scale` (the pixel size of normalised rings), as Ultralytics
    measures them in pixels."""
    if len(parts) == 1:
        return list(parts[0])
    import numpy as np

    segments = [np.asarray(part, dtype=np.float64).reshape(-1, 2) for part in parts]
    weight = np.asarray(scale, dtype=np.float64)
    indexes: list[list[int]] = [[] for _ in segments]
    for i in range(1, len(segments)):
        a, b = segments[i - 1] * weight, segments[i] * weight
        distances = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        first, second = np.unravel_index(np.argmin(distances), distances.shape)
        indexes[i - 1].append(int(first))
        indexes[i].append(int(second))
    pieces = []
    last = len(indexes) - 1
    for i, index in enumerate(indexes):  # forward: each part from where it is entered
        if len(index) == 2 and index[0] > index[1]:
            index = [len(segments[i]) - 1 - x for x in index]  # the same vertices, reversed
            segments[i] = segments[i][::-1, :]
        segments[i] = np.roll(segments[i], -index[0], axis=0)
        segments[i] = np.concatenate([segments[i], segments[i][:1]])
        if i in (0, last):
            pieces.append(segments[i])
        else:
            pieces.append(segments[i][0:index[1] - index[0] + 1])
    for i in range(last, -1, -1):  # and back through the middle parts
        if i not in (0, last):
            pieces.append(segments[i][abs(indexes[i][1] - indexes[i][0]):])
    return np.concatenate(pieces).reshape(-1).tolist()
