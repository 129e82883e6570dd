"""pycocotools-compatible RLE: encode, decode, area, box, and polygon rasterisation (numpy only).

Masks are column-major (Fortran order) run lengths starting with a run of zeros; the compressed
string form is pycocotools' `rleToString` (a LEB128-like 6-bit encoding with deltas).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from annotations.formats.records import BoxTuple, Rle

if TYPE_CHECKING:  # numpy is imported when a mask is (a box export never loads it)
    import numpy as np


def runs_to_string(counts: list[int]) -> str:
    chars: list[str] = []
    for i, value in enumerate(counts):
        x = int(value)
        if i > 2:
            x -= int(counts[i - 2])
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            chars.append(chr(c + 48))
    return "".join(chars)


def string_to_runs(text: str) -> list[int]:
    counts: list[int] = []
    position = 0
    length = len(text)
    while position < length:
        x = 0
        shift = 0
        more = True
        while more:
            if position >= length:
                raise ValueError("RLE string ends in the middle of a number")
            c = ord(text[position]) - 48
            if c < 0 or c > 63:
                raise ValueError("RLE string has a character outside its alphabet")
            x |= (c & 0x1F) << (5 * shift)
            more = (c & 0x20) != 0
            position += 1
            shift += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * shift)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def encode(mask: np.ndarray) -> Rle:
    """A 2-D 0/1 array (height, width) to a compressed RLE."""
    import numpy as np

    height, width = mask.shape
    flat = np.asarray(mask, dtype=np.uint8).flatten(order="F")
    if flat.size == 0:
        return Rle(height, width, "")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], changes, [flat.size]))
    runs = np.diff(bounds).tolist()
    if flat[0] == 1:
        runs.insert(0, 0)
    return Rle(height, width, runs_to_string(runs))


def runs_of(rle: Rle) -> list[int]:
    return string_to_runs(rle.counts)


def decode(rle: Rle) -> np.ndarray:
    import numpy as np

    runs = runs_of(rle)
    total = rle.height * rle.width
    if sum(runs) != total:
        raise ValueError(f"RLE runs cover {sum(runs)} pixels, the mask has {total}")
    values = np.zeros(len(runs), dtype=np.uint8)
    values[1::2] = 1
    flat = np.repeat(values, runs)
    return flat.reshape((rle.width, rle.height)).T


def area(rle: Rle) -> int:
    return int(sum(runs_of(rle)[1::2]))


def rle_box(rle: Rle) -> BoxTuple | None:
    """The tight box of the mask, in continuous coordinates (a pixel covers [x, x + 1))."""
    import numpy as np

    mask = decode(rle)
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    return (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))


def rasterize_polygon(rings: list[list[float]], width: int, height: int) -> np.ndarray:
    """A 0/1 mask of the polygon rings, drawn with Pillow (pixel centres inside are set)."""
    import numpy as np
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    for ring in rings:
        points = list(zip(ring[0::2], ring[1::2]))
        if len(points) >= 3:
            draw.polygon(points, fill=1, outline=1)
    return np.asarray(canvas, dtype=np.uint8)


def rasterize_box(box: BoxTuple, width: int, height: int) -> np.ndarray:
    """A 0/1 mask of the pixels whose centre lies inside the box: a whole-pixel box fills
    exactly its pixels."""
    import numpy as np

    grid = np.zeros((height, width), dtype=np.uint8)
    x0, y0, x1, y1 = (max(math.floor(v + 0.5), 0) for v in box)
    grid[y0:y1, x0:x1] = 1
    return grid
