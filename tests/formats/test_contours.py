"""Mask outlines and multi-part joins for YOLO Segmentation (families/contours.py)."""

from __future__ import annotations

import random
from collections import deque

import numpy as np
import pytest

from annotations.formats.families.contours import merge_parts, outer_contours

from .ultralytics_reference import merge_multi_segment


def grid(rows: list[str]) -> np.ndarray:
    """A mask drawn as text: '#' is inside."""
    return np.array([[c == "#" for c in row] for row in rows], dtype=np.uint8)


# --- outer_contours -----------------------------------------------------------------------------

@pytest.mark.parametrize("drawing, expected", [
    # a filled 3x2 rectangle at columns 2..4, rows 1..2: its four pixel corners, clockwise
    ([".......", "..###..", "..###..", "......."], [[2, 1, 5, 1, 5, 3, 2, 3]]),
    # one pixel: the unit square around it
    (["#"], [[0, 0, 1, 0, 1, 1, 0, 1]]),
    # two pixels touching at a corner only are two regions (4-connected)
    (["#.", ".#"], [[0, 0, 1, 0, 1, 1, 0, 1], [1, 1, 2, 1, 2, 2, 1, 2]]),
    # the same the other way round: regions in the order of their top-left pixel
    ([".#", "#."], [[1, 0, 2, 0, 2, 1, 1, 1], [0, 1, 1, 1, 1, 2, 0, 2]]),
    # a ring: the hole is ignored, only the outer outline is kept
    (["#####", "#...#", "#...#", "#####"], [[0, 0, 5, 0, 5, 4, 0, 4]]),
    # an L: six corners
    (["#..", "#..", "###"], [[0, 0, 1, 0, 1, 2, 3, 2, 3, 3, 0, 3]]),
    # a long bar: every unit edge along a side is collinear, only the four corners are kept
    (["##########"], [[0, 0, 10, 0, 10, 1, 0, 1]]),
    # a plus: twelve corners, none collinear
    ([".#.", "###", ".#."], [[1, 0, 2, 0, 2, 1, 3, 1, 3, 2, 2, 2, 2, 3, 1, 3, 1, 2, 0, 2,
                              0, 1, 1, 1]]),
    # nothing drawn: no outline
    (["...", "..."], []),
])
def test_outer_contours_trace_pixel_corners(drawing, expected):
    assert outer_contours(grid(drawing)) == [[float(v) for v in ring] for ring in expected]


def components(mask: np.ndarray) -> int:
    """Regions, 4-connected (a plain flood fill)."""
    seen = np.zeros(mask.shape, dtype=bool)
    count = 0
    for r, c in zip(*np.nonzero(mask), strict=True):
        if seen[r, c]:
            continue
        count += 1
        queue = deque([(r, c)])
        seen[r, c] = True
        while queue:
            y, x = queue.popleft()
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1] and mask[ny, nx] \
                        and not seen[ny, nx]:
                    seen[ny, nx] = True
                    queue.append((ny, nx))
    return count


def filled(mask: np.ndarray) -> np.ndarray:
    """The mask with its holes filled: background not reachable from outside the image, moving
    8-connected (the background's connectivity when regions are 4-connected)."""
    padded = np.pad(mask.astype(bool), 1)
    outside = np.zeros(padded.shape, dtype=bool)
    outside[0, 0] = True
    queue = deque([(0, 0)])
    while queue:
        y, x = queue.popleft()
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                ny, nx = y + dy, x + dx
                if 0 <= ny < padded.shape[0] and 0 <= nx < padded.shape[1] \
                        and not padded[ny, nx] and not outside[ny, nx]:
                    outside[ny, nx] = True
                    queue.append((ny, nx))
    return ~outside[1:-1, 1:-1]


def inside(ring: list[float], shape: tuple[int, int]) -> np.ndarray:
    """Pixels whose centre the ring encloses (even-odd ray casting)."""
    xs, ys = ring[0::2], ring[1::2]
    result = np.zeros(shape, dtype=bool)
    for r in range(shape[0]):
        for c in range(shape[1]):
            px, py, hit = c + 0.5, r + 0.5, False
            for i in range(len(xs)):
                x0, y0, x1, y1 = xs[i - 1], ys[i - 1], xs[i], ys[i]
                if (y0 > py) != (y1 > py) and px < x0 + (py - y0) * (x1 - x0) / (y1 - y0):
                    hit = not hit
            result[r, c] = hit
    return result


@pytest.mark.parametrize("seed", range(12))
def test_outlines_of_random_masks_enclose_exactly_the_regions_and_their_holes(seed):
    rng = random.Random(seed)
    shape = (rng.randint(1, 9), rng.randint(1, 9))
    mask = np.array([[rng.random() < 0.55 for _ in range(shape[1])] for _ in range(shape[0])],
                    dtype=np.uint8)
    rings = outer_contours(mask)
    assert len(rings) == components(mask)
    covered = np.zeros(shape, dtype=bool)
    for ring in rings:
        corners = list(zip(ring[0::2], ring[1::2], strict=True))
        for i, (x, y) in enumerate(corners):
            (px, py), (nx, ny) = corners[i - 1], corners[(i + 1) % len(corners)]
            assert px == x or py == y  # edges run along pixel edges
            assert (px == x == nx or py == y == ny) is False  # no collinear vertex kept
        covered |= inside(ring, shape)
    assert (covered == filled(mask)).all()


# --- merge_parts --------------------------------------------------------------------------------

LEFT = [0.0, 0.0, 10.0, 0.0, 10.0, 10.0, 0.0, 10.0]
RIGHT = [30.0, 6.0, 40.0, 6.0, 40.0, 16.0, 30.0, 16.0]


def pairs(ring: list[float]) -> list[tuple[float, float]]:
    return list(zip(ring[0::2], ring[1::2], strict=True))


def test_two_squares_are_joined_at_their_closest_vertices_like_ultralytics():
    merged = merge_parts([LEFT, RIGHT])
    assert merged == merge_multi_segment([LEFT, RIGHT])
    points = pairs(merged)
    assert set(pairs(LEFT)) | set(pairs(RIGHT)) == set(points)
    # Each part is walked round and closed at the vertex where the bridge leaves it: the left
    # square from (10, 10), its corner nearest the right square, then the right from (30, 6).
    assert points == [(10, 10), (0, 10), (0, 0), (10, 0), (10, 10),
                      (30, 6), (40, 6), (40, 16), (30, 16), (30, 6)]


def test_one_part_is_returned_as_it_is():
    assert merge_parts([RIGHT]) == RIGHT


def test_three_parts_in_a_row_go_out_through_the_middle_one_and_back_like_ultralytics():
    middle = [15.0, 20.0, 20.0, 20.0, 20.0, 25.0, 15.0, 25.0]
    last = [25.0, 40.0, 35.0, 40.0, 30.0, 50.0]
    parts = [LEFT, middle, last]
    merged = merge_parts(parts)
    assert merged == merge_multi_segment(parts)
    assert set(pairs(merged)) == {p for part in parts for p in pairs(part)}


@pytest.mark.parametrize("seed", range(20))
def test_random_shapes_of_two_to_five_parts_join_exactly_as_ultralytics(seed):
    rng = random.Random(seed)
    parts = [[float(rng.randint(0, 99)) for _ in range(2 * rng.randint(3, 7))]
             for _ in range(rng.randint(2, 5))]
    assert merge_parts(parts) == merge_multi_segment(parts)


def test_a_middle_part_walked_backwards_is_still_entered_and_left_at_its_closest_vertices():
    # The middle square is entered at its vertex 2 and left at vertex 0, so it is walked in
    # reverse; Ultralytics 8.4.190 maps the two indexes into the reversed order (older releases
    # did not, and entered the part at the wrong vertex).
    first = [30.0, 30.0, 40.0, 30.0, 40.0, 40.0, 30.0, 40.0]
    middle = [10.0, 0.0, 20.0, 0.0, 20.0, 10.0, 10.0, 10.0]
    last = [0.0, -20.0, 5.0, -20.0, 5.0, -15.0]
    points = pairs(merge_parts([first, middle, last]))
    assert points[:5] == [(30, 30), (40, 30), (40, 40), (30, 40), (30, 30)]
    # forward: into the middle part at (20, 10), its vertex nearest (30, 30), on to (10, 0),
    # its vertex nearest the last part, through the last part, then back through the middle
    assert points[5:8] == [(20, 10), (20, 0), (10, 0)]
    assert points[8:12] == [(5, -15), (0, -20), (5, -20), (5, -15)]
    assert points[12:] == [(10, 0), (10, 10), (20, 10)]
    assert merge_parts([first, middle, last]) == merge_multi_segment([first, middle, last])


def test_normalized_parts_are_joined_where_the_pixels_are_closest():
    # In a 1000 x 10 image, (0.1, 0) -> (0.1, 1) is 10 px and (0.1, 0) -> (0.12, 0) is 20 px:
    # measured in fractions the second pair would look closer (0.02 < 1).
    width, height = 1000.0, 10.0
    top = [0.0, 0.0, 0.1, 0.0, 0.05, 0.0]
    apart = [0.12, 0.0, 0.2, 0.0, 0.2, 0.5, 0.1, 1.0]
    in_pixels = [[v * (width if i % 2 == 0 else height) for i, v in enumerate(p)]
                 for p in (top, apart)]
    merged = merge_parts([top, apart], (width, height))
    expected = merge_multi_segment(in_pixels)
    assert merged == pytest.approx([v / (width if i % 2 == 0 else height)
                                    for i, v in enumerate(expected)])
    assert pairs(merged)[4] == (0.1, 1.0)  # the bridge goes down 10 px, not across 20
