"""The box fast path (rows -> tuples -> write_boxes) writes the same bytes as the record path.

Boxes come from the database as plain tuples (annotations.mapping `raw_boxes`) and box writers
format tuples (`write_boxes`); the record path builds ImageRecords and prepares them with
`prepare_image`. Both must agree on awkward data: corners out of order, outside the image,
negative zero, shapes stored without their box, keypoints with nothing labelled, class tags.
"""

from __future__ import annotations

import random
import zipfile
from datetime import UTC, datetime

import pytest

from annotations.formats import registry
from annotations.formats.io.zipout import bytes_loader
from annotations.formats.pipeline import (
    ExportOptions,
    ExportRequest,
    export_zip,
    order_and_split,
)
from annotations.mapping import dataset_labels, image_ids_in_upload_order, iter_image_records
from annotations.models import Annotation
from datasets.models import Dataset, Image

BOX_FORMATS = [s.id for s in registry.available_formats()
               if s.box_fast_path]
SIZES = [(640, 480), (33, 17), (1, 1)]


def _value(rng: random.Random, limit: int) -> float:
    return rng.choice([rng.uniform(-50, limit + 50), round(rng.uniform(0, limit), 2), -0.0, 0,
                       float(limit), rng.uniform(0, limit) / 3, limit + 1e-9])


def awkward_dataset(owner, seed: int = 5) -> Dataset:
    rng = random.Random(seed)
    dataset = Dataset.objects.create(owner=owner, name="Awkward", slug="awkward")
    labels = [dataset.labels.create(name=name, position=i) for i, name in
              enumerate(["car", "-1", 'a,"b"', "x<y & z", "ü"], start=1)]
    names = ["a.jpg", "A.png", "b c.jpg", "=x.jpg", "#h.jpg", "q&a.jpg", 'qu"ote.jpg', "ü.jpg"]
    rows = []
    for i in range(60):
        width, height = SIZES[i % len(SIZES)]
        image = Image.objects.create(dataset=dataset, file="unused.jpg", width=width,
                                     height=height, original_name=names[i % len(names)],
                                     checksum=f"{i:064d}", position=i)
        for _ in range(rng.randrange(0, 7)):
            kind = rng.choice(["box", "box", "box", "polygon", "keypoints", "tag"])
            box = [_value(rng, width), _value(rng, height), _value(rng, width),
                   _value(rng, height)]
            fields = dict(image=image, label=rng.choice(labels), kind=kind)
            if kind == "polygon":
                ring = [_value(rng, width if j % 2 == 0 else height) for j in range(8)]
                fields["geometry"] = {"rings": [ring]}
                if rng.random() < 0.5:  # stored without its box: read from the geometry
                    box = None
            elif kind == "keypoints":
                points = [[_value(rng, width), _value(rng, height), rng.choice([0, 1, 2])]
                          for _ in range(3)]
                fields["geometry"] = {"points": points}
                if rng.random() < 0.5:
                    box = None
            if kind == "tag":
                box = None
            if box is not None:
                fields.update(xmin=box[0], ymin=box[1], xmax=box[2], ymax=box[3])
            rows.append(Annotation(**fields))
    Annotation.objects.bulk_create(rows)
    return dataset


def _export(dataset, fmt: str, options: ExportOptions, tmp_path, fast: bool) -> dict:
    ids = image_ids_in_upload_order(dataset)
    sets = {}
    for name, set_ids in order_and_split(ids, options).items():
        stream = iter_image_records(set_ids, chunk=7)
        sets[name] = stream if fast else list(stream)  # a list offers no raw rows
    request = ExportRequest(format_id=fmt, dataset_id=dataset.pk, dataset_name=dataset.name,
                            created_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
                            options=options, labels=dataset_labels(dataset), skeletons=[],
                            sets=sets, total_images=len(ids))
    target = tmp_path / f"{fmt}-{fast}.zip"
    export_zip(request, str(target), image_loader=bytes_loader({}))
    with zipfile.ZipFile(target) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.mark.parametrize("normalized", [False, True], ids=["absolute", "normalized"])
@pytest.mark.parametrize("fmt", BOX_FORMATS)
def test_database_rows_and_records_export_the_same_bytes(owner, fmt, normalized, tmp_path):
    dataset = awkward_dataset(owner)
    options = ExportOptions(normalized=normalized, shuffle=True, seed=11, split_ratio=0.3,
                            include_images=False)
    fast = _export(dataset, fmt, options, tmp_path, fast=True)
    records = _export(dataset, fmt, options, tmp_path, fast=False)
    assert fast == records
