"""For the Ultralytics YOLO tests: annotation rows added to a dataset, the zip that
`manage.py export_annotations` writes, and what Ultralytics reads from it (data.yaml, label
lines)."""

from __future__ import annotations

from pathlib import Path

import yaml
from django.db.models import F

from annotations.formats.records import Annotation as Record
from annotations.mapping import annotation_fields
from annotations.models import Annotation
from datasets.models import Dataset, Image
from datasets.services import label_get_or_create

from ..exports.test_keep_split import export


def add(image: Image, record: Record) -> Annotation:
    """Store `record` on `image` (its label created when new), as an import would."""
    label = label_get_or_create(dataset=image.dataset, name=record.label)
    row = Annotation.objects.create(image=image, label=label, **annotation_fields(record))
    Dataset.objects.filter(pk=image.dataset_id).update(
        annotations_version=F("annotations_version") + 1)
    return row


def exported(dataset: Dataset, tmp_path: Path, format_id: str, *args: str) -> dict[str, bytes]:
    """The members of the command's zip, keyed by their path below the top folder."""
    members = export(dataset, tmp_path, format_id, "--format", format_id, *args)
    return {name.split("/", 1)[1]: data for name, data in members.items()}


def data_yaml(members: dict[str, bytes]) -> dict:
    """data.yaml as Ultralytics loads it (a YAML parser, not the project's reader)."""
    return yaml.safe_load(members["data.yaml"])


def label_lines(members: dict[str, bytes], path: str) -> list[list[str]]:
    return [line.split() for line in members[path].decode().splitlines()]


def pixel_pairs(values: list[float], width: int, height: int) -> list[tuple[float, float]]:
    """Normalized x y pairs back in pixels."""
    return [(values[i] * width, values[i + 1] * height) for i in range(0, len(values), 2)]
