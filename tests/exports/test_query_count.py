"""Exports read the database in chunks: the number of queries does not follow the image count."""

from __future__ import annotations

import math

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotations.mapping import DEFAULT_CHUNK
from exports import tasks

from ..factories import dataset_with_boxes
from .test_reliability import new_job


def export_queries(dataset, fmt: str) -> int:
    job = new_job(dataset, fmt, split=0.3, shuffle=True, seed=3)
    with CaptureQueriesContext(connection) as queries:
        assert tasks.run_export(str(job.pk)) == "finished"
    return len(queries)


@pytest.mark.parametrize("fmt", ["yolo_darknet", "coco", "pascal_voc", "polygon_single"])
def test_exporting_3000_images_takes_no_more_queries_than_the_chunks_need(owner, fmt, settings):
    # Progress writes are throttled by time in production (test settings write every tick).
    settings.NEXUS_PROGRESS_INTERVAL = 3600
    small = export_queries(dataset_with_boxes(owner, 300, name="Small"), fmt)
    large = export_queries(dataset_with_boxes(owner, 3000, name="Large"), fmt)
    # Per set: one query for the label names, then two per chunk of images (image rows,
    # annotation rows); everything else (claim, progress, publish) does not depend on N.
    extra_chunks = 2 * (math.ceil(2100 / DEFAULT_CHUNK) + math.ceil(900 / DEFAULT_CHUNK) - 2)
    assert large - small <= extra_chunks, (small, large)
    assert large < 60, large  # one query per image would be thousands
