"""The one seam between database rows and the formats library's records.

Exports stream rows in chunks (a bounded number of queries per chunk of images, never one per
image) and never build model instances per annotation, so memory stays flat however large the
dataset is. Rows are read with the queryset's own SQL through a plain cursor: `values_list` would
run a converter per value, and only the geometry column needs one (JSON).
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import connections
from django.db.models import Case, Count, F, QuerySet, When

from annotations.formats.geometry import tight_box
from annotations.formats.records import Annotation as AnnotationRecord
from annotations.formats.records import ImageRecord, Keypoint, Rle
from annotations.formats.records import Label as LabelRecord
from annotations.formats.records import Skeleton as SkeletonRecord
from annotations.formats.spec import FAMILY_KINDS
from datasets.models import Dataset, Image, Label, Skeleton

from .models import Annotation

DEFAULT_CHUNK = 900  # below SQLite's variable limit on old builds
ANNOTATION_COLUMNS = ("image_id", "label_id", "kind", "xmin", "ymin", "xmax", "ymax", "geometry")
IMAGE_COLUMNS = ("id", "original_name", "width", "height", "file")
# The box path reads each annotation's stored tight box, and the id of a shape stored without one
# (NULL for the others), whose kind and geometry are then read by id. Reading kind and geometry
# for every row cost ~15% of the fetch, and all of a polygon's text when only its box is written.
BOX_COLUMNS = ("image_id", "label_id", "xmin", "ymin", "xmax", "ymax",
               Case(When(xmin__isnull=True, then=F("id"))))


def dataset_labels(dataset: Dataset) -> list[LabelRecord]:
    return [LabelRecord(label.name, label.rgb, label.pk) for label in dataset.labels.all()]


def dataset_label_kinds(dataset: Dataset) -> dict[tuple[str, str], int]:
    """(label name, kind) -> annotations: one grouped scan of the (label, kind) index."""
    rows = (Annotation.objects.filter(label__dataset=dataset)
            .values_list("label__name", "kind").annotate(n=Count("id")).order_by())
    return {(name, kind): n for name, kind, n in rows}


def image_checksums(dataset: Dataset) -> dict[int, str]:
    """Image id -> the sha256 of its stored bytes (a stable split's input)."""
    return dict(Image.objects.filter(dataset=dataset).values_list("id", "checksum")
                .iterator(chunk_size=10_000))


def recorded_sets(dataset: Dataset) -> dict[int, str]:
    """Image id -> the set it was uploaded in, for the images that have one."""
    return dict(Image.objects.filter(dataset=dataset).exclude(recorded_set="")
                .values_list("id", "recorded_set").iterator(chunk_size=10_000))


def has_recorded_sets(dataset: Dataset) -> bool:
    return Image.objects.filter(dataset=dataset).exclude(recorded_set="").exists()


def split_inputs(dataset: Dataset, split_mode: str
                 ) -> tuple[dict[int, str] | None, dict[int, str] | None]:
    """What a `stable` or `keep` split reads besides the ids: every image's sha256 and, for
    `keep`, the recorded sets."""
    if split_mode not in ("stable", "keep"):
        return None, None
    return image_checksums(dataset), recorded_sets(dataset) if split_mode == "keep" else None


@dataclass(frozen=True)
class LabelMatrix:
    """Every (image, label) pair of a dataset's annotations of some kinds, as numpy columns: the
    export preview's input. `image` holds image ids, `label` indexes `label_names`, `count` is
    the pair's annotations."""

    label_names: list[str]
    image: Any
    label: Any
    count: Any


_kept: dict[tuple, Any] = {}


def kept_per_version(dataset: Dataset, what: tuple, compute: Callable[[], Any]) -> Any:
    """`compute()` once per dataset annotations version, kept in this process (the export
    preview asks for the same reads at every change of an option)."""
    version = Dataset.objects.filter(pk=dataset.pk).values_list("annotations_version",
                                                                flat=True).first()
    key = (dataset.pk, version, *what)
    if key not in _kept:
        for stale in [k for k in _kept if k[0] == dataset.pk and k[1] != version]:
            del _kept[stale]
        _kept[key] = compute()
    return _kept[key]


def label_matrix(dataset: Dataset, kinds: tuple[str, ...]) -> LabelMatrix:
    """Kept per dataset version (a 100k-image dataset's pairs take about two seconds to read
    and a few MB to keep)."""
    return kept_per_version(dataset, ("matrix", kinds), lambda: _label_matrix(dataset, kinds))


def _label_matrix(dataset: Dataset, kinds: tuple[str, ...]) -> LabelMatrix:
    import numpy as np

    names = list(Label.objects.filter(dataset=dataset).order_by("position", "id")
                 .values_list("id", "name"))
    position = {label_id: i for i, (label_id, _) in enumerate(names)}
    rows = (Annotation.objects.filter(label__dataset=dataset, kind__in=kinds)
            .values_list("image_id", "label_id").annotate(n=Count("id")).order_by())
    flat = np.fromiter((v for image_id, label_id, n in rows.iterator(chunk_size=20_000)
                        for v in (image_id, position[label_id], n)), dtype=np.int64)
    return LabelMatrix([name for _, name in names], flat[0::3], flat[1::3], flat[2::3])


def image_label_counts(dataset: Dataset, kinds: tuple[str, ...]) -> dict[int, dict[str, int]]:
    """Image id -> {label name: annotations of these kinds}: a stratified split's input and the
    export preview's, from one query grouped by (image, label)."""
    names = dict(Label.objects.filter(dataset=dataset).values_list("id", "name"))
    rows = (Annotation.objects.filter(label__dataset=dataset, kind__in=kinds)
            .values_list("image_id", "label_id").annotate(n=Count("id")).order_by())
    found: dict[int, dict[str, int]] = {}
    for image_id, label_id, n in rows.iterator(chunk_size=10_000):
        found.setdefault(image_id, {})[names[label_id]] = n
    return found


def dataset_skeletons(dataset: Dataset) -> list[SkeletonRecord]:
    """In the dataset's label order, as the classes are: YOLO pose takes `flip_idx` from the
    first class's skeleton, and a merged class keeps its first label's."""
    rows = Skeleton.objects.filter(dataset=dataset).select_related("label").order_by(
        "label__position", "label__id")
    return [
        SkeletonRecord(label=s.label.name, keypoints=list(s.keypoints),
                       connections=[tuple(c) for c in s.connections],
                       flip_pairs=[tuple(p) for p in s.flip_pairs], name=s.name)
        for s in rows
    ]


def image_ids_in_upload_order(dataset: Dataset) -> array[int]:
    """The ids packed, 8 bytes each: a list holds ~40 bytes per id (40 MB for a million images)."""
    ids = Image.objects.filter(dataset=dataset).order_by("position", "id").values_list("id",
                                                                                      flat=True)
    return array("q", ids.iterator(chunk_size=10_000))


def iter_image_records(image_ids: list[int], chunk: int = DEFAULT_CHUNK) -> ImageRecordStream:
    """Records for `image_ids`, in that order, two queries per chunk (plus one for label names)."""
    return ImageRecordStream(image_ids, chunk)


class ImageRecordStream:
    """The images of one export set, in order. Iterating gives ImageRecords; `raw_boxes()` gives
    the box family's rows without building records (the pipeline's box fast path)."""

    def __init__(self, image_ids: list[int], chunk: int = DEFAULT_CHUNK) -> None:
        self.image_ids, self.chunk = image_ids, max(1, chunk)
        self._label_names: dict[int, str] | None = None

    def __len__(self) -> int:
        return len(self.image_ids)

    def __iter__(self) -> Iterator[ImageRecord]:
        for ids, images, rows in self._chunks():
            by_image: dict[int, list[AnnotationRecord]] = {}
            names = self._label_names or {}
            current = None
            for image_id, label_id, kind, x0, y0, x1, y1, geometry in rows:
                if image_id != current:
                    current, found = image_id, []
                    by_image[image_id] = found
                if geometry is None and x0 is not None:  # a box: no JSON to read
                    found.append(AnnotationRecord(names[label_id], kind, (x0, y0, x1, y1)))
                elif kind == "polygon" and type(geometry) is str and _plain_rings(geometry):
                    found.append(AnnotationRecord(
                        names[label_id], kind, (x0, y0, x1, y1) if x0 is not None else None,
                        polygon=_decode_floats(geometry)["rings"]))
                else:
                    found.append(annotation_record(names[label_id], kind, x0, y0, x1, y1,
                                                   _json(geometry)))
            for image_id in ids:
                row = images.get(image_id)
                if row is None:
                    continue  # deleted while the export ran
                yield ImageRecord(file_name=row[1], width=row[2], height=row[3],
                                  annotations=by_image.get(image_id, []), id=image_id, ref=row[4])

    def raw_boxes(self) -> Iterator[tuple[int, str, int, int, str, list]]:
        """(id, file name, width, height, ref, [(label, xmin, ymin, xmax, ymax), ...]) per image:
        the stored tight box of every geometric annotation, as `boxes.raw_boxes` takes it from
        records (a shape stored without its box is read and measured)."""
        kinds = FAMILY_KINDS["boxes"]
        empty: list = []
        for ids, images, rows in self._chunks(kinds, BOX_COLUMNS):
            names = self._label_names or {}
            by_image: dict[int, list] = {}
            current = shapes = None
            for image_id, label_id, x0, y0, x1, y1, boxless_id in rows:
                if x0 is None:
                    if shapes is None:
                        shapes = _shapes([row[6] for row in rows if row[6] is not None])
                    if boxless_id not in shapes:
                        continue  # deleted while the export ran
                    kind, geometry = shapes[boxless_id]
                    record = annotation_record(names[label_id], kind, x0, y0, x1, y1,
                                               _json(geometry))
                    box = tight_box(record)
                    if box is None:
                        continue
                    x0, y0, x1, y1 = box
                if image_id != current:
                    current, found = image_id, []
                    by_image[image_id] = found
                found.append((names[label_id], x0, y0, x1, y1))
            for image_id in ids:
                row = images.get(image_id)
                if row is not None:
                    yield image_id, row[1], row[2], row[3], row[4], by_image.get(image_id, empty)

    def _chunks(self, kinds: tuple[str, ...] | None = None, columns: tuple = ANNOTATION_COLUMNS
                ) -> Iterator[tuple[list, dict, list]]:
        def annotations(ids: list[int]) -> QuerySet:
            found = Annotation.objects.filter(image_id__in=ids)
            if kinds is not None:
                found = found.filter(kind__in=kinds)
            return found.order_by("image_id", "id").values_list(*columns)

        image_rows = _ChunkQuery(
            lambda ids: Image.objects.filter(id__in=ids).values_list(*IMAGE_COLUMNS, "dataset_id"))
        annotation_rows = _ChunkQuery(annotations)
        for start in range(0, len(self.image_ids), self.chunk):
            ids = self.image_ids[start:start + self.chunk]
            images = {row[0]: row for row in image_rows(ids)}
            if self._label_names is None and images:
                dataset_id = next(iter(images.values()))[5]
                self._label_names = dict(Label.objects.filter(dataset_id=dataset_id)
                                         .values_list("id", "name"))
            yield ids, images, annotation_rows(ids)


class _ChunkQuery:
    """The rows of `make(ids)` for chunk after chunk of ids. Django prepares every value of an
    `IN` list in Python (~2 us per id, 0.04 s of a 10k-image export), so the queryset's SQL is
    compiled once per chunk length; later chunks of that length only swap their ids into the
    parameters, when the compiled ones start with exactly the ids given (else: compiled again)."""

    def __init__(self, make: Callable[[list[int]], QuerySet]) -> None:
        self.make = make
        self.compiled: dict[int, tuple[str, str, tuple]] = {}  # len(ids) -> db, SQL, other params

    def __call__(self, ids: list[int]) -> list[tuple]:
        n = len(ids)
        if n in self.compiled:
            db, sql, rest = self.compiled[n]
            return _fetch(db, sql, (*ids, *rest))
        queryset = self.make(ids)
        sql, params = queryset.query.sql_with_params()
        if tuple(params[:n]) == tuple(ids):
            self.compiled[n] = (queryset.db, sql, tuple(params[n:]))
        return _fetch(queryset.db, sql, params)


def _shapes(ids: list[int]) -> dict[int, tuple]:
    """id -> (kind, geometry as stored) of these annotations, DEFAULT_CHUNK ids per query."""
    found = {}
    for start in range(0, len(ids), DEFAULT_CHUNK):
        queryset = Annotation.objects.filter(id__in=ids[start:start + DEFAULT_CHUNK])
        queryset = queryset.values_list("id", "kind", "geometry")
        found.update((row[0], row[1:]) for row in
                     _fetch(queryset.db, *queryset.query.sql_with_params()))
    return found


def _fetch(db: str, sql: str, params) -> list[tuple]:
    """The rows as the database driver returns them (no per-value converters)."""
    with connections[db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _json(value):
    # SQLite (and Django's psycopg setup) hand JSON columns over as text; a driver that already
    # decoded them hands over the object. orjson gives the same objects 2-3x faster on the texts
    # json.dumps wrote; what it refuses (NaN, lone surrogates, huge ints) goes to json.loads,
    # which accepts or raises as before.
    if isinstance(value, (str, bytes)):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return json.loads(value)
    return value


# Polygon geometry is {"rings": [[x, y, ...], ...]}: numbers only. Decoding its integers as floats
# gives the lists `annotation_record` builds with float() (one decoder, made once, and no second
# pass over every vertex); anything else in the text takes the general path.
_decode_floats = json.JSONDecoder(parse_int=float).decode


def _plain_rings(text: str) -> bool:
    return text.count('"') == 2 and "true" not in text and "false" not in text \
        and "null" not in text and "[[[" not in text


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


FIELDS = ("kind", "xmin", "ymin", "xmax", "ymax", "geometry")


def annotation_values(record: AnnotationRecord) -> list:
    """Model field values for a record, in FIELDS order (the inverse of `annotation_record`)."""
    from annotations.formats.geometry import tight_box

    box = tight_box(record) if record.kind != "tag" else None
    geometry = None
    if record.kind == "polygon":
        geometry = {"rings": record.polygon}
    elif record.kind == "mask":
        geometry = record.mask and {"size": [record.mask.height, record.mask.width],
                                    "counts": record.mask.counts}
    elif record.kind == "keypoints":
        geometry = {"points": [[p.x, p.y, p.visibility] for p in record.keypoints or []]}
    return [record.kind, *(box or (None, None, None, None)), geometry]


def annotation_fields(record: AnnotationRecord) -> dict:
    return dict(zip(FIELDS, annotation_values(record), strict=True))
