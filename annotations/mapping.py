"""The one seam between database rows and the formats library's records.

Exports stream rows in chunks with `values_list` (no model instances per annotation), so memory
stays flat however large the dataset is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from datasets.models import Dataset, Image, Label, Skeleton

from .formats.records import Annotation as AnnotationRecord
from .formats.records import ImageRecord, Keypoint, Rle
from .formats.records import Label as LabelRecord
from .formats.records import Skeleton as SkeletonRecord
from .models import Annotation

DEFAULT_CHUNK = 900  # below SQLite's variable limit on old builds


def dataset_labels(dataset: Dataset) -> list[LabelRecord]:
    return [LabelRecord(label.name, label.rgb) for label in dataset.labels.all()]


def dataset_skeletons(dataset: Dataset) -> list[SkeletonRecord]:
    return [
        SkeletonRecord(label=s.label.name, keypoints=list(s.keypoints),
                       connections=[tuple(c) for c in s.connections],
                       flip_pairs=[tuple(p) for p in s.flip_pairs], name=s.name)
        for s in Skeleton.objects.filter(dataset=dataset).select_related("label")
    ]


def image_ids_in_upload_order(dataset: Dataset) -> list[int]:
    return list(Image.objects.filter(dataset=dataset).order_by("position", "id")
                .values_list("id", flat=True))


def iter_image_records(image_ids: list[int], chunk: int = DEFAULT_CHUNK) -> Iterator[ImageRecord]:
    """Records for `image_ids`, in that order, two queries per chunk."""
    label_names: dict[int, str] = {}
    for start in range(0, len(image_ids), chunk):
        ids = image_ids[start:start + chunk]
        rows = Image.objects.filter(id__in=ids).values_list(
            "id", "original_name", "width", "height", "file", "checksum", "dataset_id")
        images = {row[0]: row for row in rows}
        if not label_names and rows:
            label_names = dict(Label.objects.filter(dataset_id=rows[0][6])
                               .values_list("id", "name"))
        by_image: dict[int, list[AnnotationRecord]] = defaultdict(list)
        for row in (Annotation.objects.filter(image_id__in=ids).order_by("image_id", "id")
                    .values_list("image_id", "label_id", "kind", "xmin", "ymin", "xmax", "ymax",
                                 "geometry")):
            by_image[row[0]].append(annotation_record(label_names[row[1]], *row[2:]))
        for image_id in ids:
            if image_id not in images:
                continue  # deleted while the export ran
            _, name, width, height, ref, checksum, _ = images[image_id]
            yield ImageRecord(file_name=name, width=width, height=height,
                              annotations=by_image.get(image_id, []), id=image_id, ref=ref)


def annotation_record(label: str, kind: str, xmin: float | None, ymin: float | None,
                      xmax: float | None, ymax: float | None,
                      geometry: dict | None) -> AnnotationRecord:
    box = (xmin, ymin, xmax, ymax) if xmin is not None else None
    record = AnnotationRecord(label=label, kind=kind, box=box)
    if kind == "polygon":
        record.polygon = [list(map(float, ring)) for ring in geometry["rings"]]
    elif kind == "mask":
        height, width = geometry["size"]
        record.mask = Rle(height=height, width=width, counts=geometry["counts"])
    elif kind == "keypoints":
        record.keypoints = [Keypoint(float(x), float(y), int(v)) for x, y, v in geometry["points"]]
    return record


def annotation_fields(record: AnnotationRecord) -> dict:
    """Model field values for a record (the inverse of `annotation_record`)."""
    from .formats.geometry import tight_box

    box = tight_box(record) if record.kind != "tag" else None
    geometry = None
    if record.kind == "polygon":
        geometry = {"rings": record.polygon}
    elif record.kind == "mask":
        geometry = record.mask and {"size": [record.mask.height, record.mask.width],
                                    "counts": record.mask.counts}
    elif record.kind == "keypoints":
        geometry = {"points": [[p.x, p.y, p.visibility] for p in record.keypoints or []]}
    fields = {"kind": record.kind, "geometry": geometry}
    if box is not None:
        fields.update(xmin=box[0], ymin=box[1], xmax=box[2], ymax=box[3])
    return fields
