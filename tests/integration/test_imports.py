"""Annotation imports on PostgreSQL: the streamed reader, the spooled plan and the raw INSERTs
(JSON geometry goes in as jsonb there, not text) write what the export reads back."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.management import call_command

from annotations.models import Annotation
from datasets.models import Dataset
from datasets.services import dataset_create, image_create

from ..uploads.conftest import image_bytes

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

KEYPOINTS = {
    "images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48},
               {"id": 2, "file_name": "b.jpg", "width": 32, "height": 24}],
    "categories": [{"id": 1, "name": "person", "keypoints": ["head", "hand"],
                    "skeleton": [[1, 2]]}],
    "annotations": [
        {"id": 1, "image_id": 2, "category_id": 1, "bbox": [1, 1, 10, 10], "num_keypoints": 2,
         "keypoints": [2, 3, 2, 8, 9, 1]},
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [5, 5, 20, 20], "num_keypoints": 1,
         "keypoints": [6, 7, 2, 0, 0, 0]},
        {"id": 3, "image_id": 2, "category_id": 1, "bbox": [3, 3, 4, 4], "num_keypoints": 1,
         "keypoints": [4, 4, 1, 0, 0, 0]}]}


def test_a_streamed_coco_import_lands_in_postgresql_once(owner, tmp_path, settings):
    from django.db import connection

    assert connection.vendor == "postgresql"
    settings.NEXUS_STREAM_JSON_BYTES = 0
    dataset = dataset_create(owner=owner, name="Poses")
    for name, (width, height) in {"a.jpg": (64, 48), "b.jpg": (32, 24)}.items():
        image_create(dataset=dataset, name=name, data=image_bytes(name, width, height))
    path = tmp_path / "person_keypoints.json"
    path.write_text(json.dumps(KEYPOINTS))
    for expected in ("Imported 3 annotations on 2 images", "Imported 0 annotations"):
        out = io.StringIO()
        call_command("import_annotations", str(dataset.pk), str(path), "--yes", stdout=out)
        assert expected in out.getvalue()
    rows = Annotation.objects.filter(image__dataset=Dataset.objects.get(pk=dataset.pk))
    stored = sorted(rows.values_list("image__original_name", "geometry", "xmin", "ymax"),
                    key=repr)
    assert stored == sorted([
        ("b.jpg", {"points": [[2.0, 3.0, 2], [8.0, 9.0, 1]]}, 1.0, 11.0),
        ("a.jpg", {"points": [[6.0, 7.0, 2], [0.0, 0.0, 0]]}, 5.0, 25.0),
        ("b.jpg", {"points": [[4.0, 4.0, 1], [0.0, 0.0, 0]]}, 3.0, 7.0)], key=repr)
    # jsonb, queryable as JSON: the geometry is not a string in a JSON column.
    assert rows.filter(geometry__points__0__2=2).count() == 2


def test_the_command_copies_an_export_out_of_object_storage(owner, tmp_path):
    dataset = dataset_create(owner=owner, name="Poses")
    image_create(dataset=dataset, name="a.jpg", data=image_bytes("a.jpg", 64, 48))
    path = tmp_path / "person_keypoints.json"
    path.write_text(json.dumps({**KEYPOINTS, "images": KEYPOINTS["images"][:1],
                                "annotations": KEYPOINTS["annotations"][1:2]}))
    call_command("import_annotations", str(dataset.pk), str(path), "--yes", stdout=io.StringIO())
    target = tmp_path / "poses.zip"
    call_command("export_annotations", str(dataset.pk), "--format", "keypoints_coco", "-o",
                 str(target), stdout=io.StringIO())
    with zipfile.ZipFile(target) as archive:
        assert archive.testzip() is None
        images = [n for n in archive.namelist() if n.endswith("/a.jpg")]
        assert len(images) == 1 and archive.read(images[0]) == image_bytes("a.jpg", 64, 48)
        document = json.loads(archive.read(next(n for n in archive.namelist()
                                                if n.endswith(".json") and "/train/" in n)))
    assert [a["keypoints"] for a in document["annotations"]] == [[6, 7, 2, 0, 0, 0]]
