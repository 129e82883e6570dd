"""`pipeline._prepare` takes a shorter path for polygons and keypoint instances that carry their
box (every row from the database does); it must give exactly the general path's values, types
and signs of zero included."""

from __future__ import annotations

import math
import random

import pytest

from annotations.formats import geometry, pipeline
from annotations.formats.io import collector
from annotations.formats.records import Annotation, Keypoint


def _same(a: Annotation | None, b: Annotation | None) -> None:
    assert repr(a) == repr(b)  # repr tells -0.0 from 0.0 and 1 from 1.0


def _rings(rng: random.Random, width: int, height: int) -> list[list[float]]:
    rings = []
    for _ in range(rng.choice((1, 1, 2))):
        ring = []
        for _ in range(rng.randrange(3, 12)):
            ring += [rng.choice((rng.uniform(-50, width + 50), 0.0, -0.0, float(width),
                                 round(rng.uniform(0, width), 2))),
                     rng.choice((rng.uniform(-50, height + 50), 0.0, -0.0, float(height),
                                 round(rng.uniform(0, height), 2)))]
        rings.append(ring)
    return rings


@pytest.mark.parametrize("normalized", [False, True])
def test_polygons_as_the_general_path(normalized):
    rng = random.Random(3)
    for _ in range(2000):
        width, height = rng.choice(((640, 480), (3, 7), (1, 1)))
        rings = _rings(rng, width, height)
        if rng.random() < 0.1:
            rings = [[int(v) for v in ring] for ring in rings]
        fast = Annotation("a", "polygon", box=geometry.polygon_box(rings), polygon=rings)
        general = Annotation("a", "polygon", polygon=rings)
        _same(pipeline._prepare(fast, "polygons", width, height, normalized),
              pipeline._prepare(general, "polygons", width, height, normalized))


@pytest.mark.parametrize("normalized", [False, True])
def test_keypoints_as_the_general_path(normalized):
    rng = random.Random(4)
    for _ in range(2000):
        width, height = rng.choice(((640, 480), (3, 7)))
        points = [Keypoint(rng.choice((rng.uniform(-20, width + 20), 0.0, -0.0, float(width),
                                       int(rng.uniform(0, width)), math.nan)),
                           rng.choice((rng.uniform(-20, height + 20), -0.0, float(height))),
                           rng.choice((0, 1, 2, 2)))
                  for _ in range(rng.randrange(0, 18))]
        box = geometry.keypoints_box(points)
        if box is None:
            continue
        fast = Annotation("p", "keypoints", box=box, keypoints=points)
        general = Annotation("p", "keypoints", keypoints=points)
        _same(pipeline._prepare(fast, "keypoints", width, height, normalized),
              pipeline._prepare(general, "keypoints", width, height, normalized))


def test_exports_restore_the_collector_threshold(monkeypatch):
    import gc

    before = gc.get_threshold()
    seen = []

    def failing(*args, **kwargs):
        seen.append(gc.get_threshold())
        raise RuntimeError("boom")

    monkeypatch.setattr(pipeline, "_export_zip", failing)
    with pytest.raises(RuntimeError):
        pipeline.export_zip(None, "unused", image_loader=open)
    assert seen[0][0] >= collector.GC_THRESHOLD
    assert gc.get_threshold() == before
