"""The plan of an annotation import, and applying it: everything or nothing, visible at once.

A plan is what `importing.analyse_source` decided: labels in class order, skeletons, and one row
per annotation to write. The rows are spooled to a file as JSON lines while the upload is read,
and read back in chunks when they are written, so memory stays flat whatever the upload's size.
Between the preview and the user's Confirm the plan is stored beside the upload: its header
(`Plan.header()`) and its rows file, a JSON array of up to INSERT_CHUNK rows per line:

    row = [image id, label name, kind, xmin, ymin, xmax, ymax, geometry]   (model field values)

Re-importing appends, except that annotations identical to ones already on the image (same label,
kind and geometry, to 3 decimals) are skipped: the same file twice adds nothing.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from operator import itemgetter
from pathlib import Path

import orjson
from django.db import DatabaseError, connections, router, transaction
from django.db.models import F

from annotations.formats.io.collector import fewer_collections
from datasets.models import Dataset, Image, Skeleton
from datasets.services import label_ids_get_or_create

from .matching import ImportRefused
from .models import Annotation

INSERT_CHUNK = 2000
QUERY_CHUNK = 900  # image ids per IN (...) query, below SQLite's variable limit on old builds
Row = list  # [image_id, label, kind, xmin, ymin, xmax, ymax, geometry]
KIND, GEOMETRY = 2, 7


@dataclass
class Plan:
    """What an import writes: labels in class order, skeletons, and the rows file."""

    rows_path: Path
    labels: list[str] = field(default_factory=list)
    skeletons: list[dict] = field(default_factory=list)
    annotation_count: int = 0
    image_sets: dict[str, list[int]] = field(default_factory=dict)  # set -> image ids, recorded

    def header(self) -> bytes:
        return orjson.dumps({"labels": self.labels, "skeletons": self.skeletons,
                             "annotation_count": self.annotation_count,
                             "image_sets": self.image_sets})

    @classmethod
    def from_header(cls, header: bytes, rows_path: Path) -> Plan:
        raw = orjson.loads(header)
        return cls(rows_path=rows_path, labels=raw["labels"], skeletons=raw["skeletons"],
                   annotation_count=raw["annotation_count"],
                   image_sets=raw.get("image_sets", {}))

    def chunks(self) -> Iterator[list[Row]]:
        with open(self.rows_path, "rb") as handle:
            for line in handle:
                yield orjson.loads(line)

    def discard(self) -> None:
        self.rows_path.unlink(missing_ok=True)


class PlanWriter:
    """Appends rows to a new rows file in `folder`; counts them and checks them, a chunk at a
    time, against the annotations already in the dataset (for the preview's figures)."""

    def __init__(self, dataset: Dataset, folder: Path | None = None) -> None:
        handle, name = tempfile.mkstemp(prefix=".plan-", suffix=".jsonl", dir=folder)
        self.file = os.fdopen(handle, "wb")
        self.plan = Plan(rows_path=Path(name))
        self.existing = ExistingAnnotations(dataset)
        self.kinds: Counter = Counter()  # planned rows by kind, duplicates excluded
        self.duplicates = 0
        self._chunk: list[Row] = []

    def add(self, row: Row) -> None:
        self.extend([row])

    def extend(self, rows: list[Row]) -> None:
        chunk = self._chunk
        chunk += rows
        while len(chunk) >= INSERT_CHUNK:
            self._chunk, chunk = chunk[:INSERT_CHUNK], chunk[INSERT_CHUNK:]
            self._flush()
            self._chunk = chunk

    def _flush(self) -> None:
        kept = self.existing.without_duplicates(self._chunk)
        self.duplicates += len(self._chunk) - len(kept)
        self.kinds.update(map(itemgetter(KIND), kept))
        self.plan.annotation_count += len(self._chunk)
        if self._chunk:
            self.file.write(orjson.dumps(self._chunk) + b"\n")
        self._chunk = []

    def close(self) -> Plan:
        self._flush()
        self.file.close()
        return self.plan

    def abandon(self) -> None:
        self.file.close()
        self.plan.discard()


# --- the same annotation twice ------------------------------------------------------------------

def _rounded(value):
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def row_key(row: Row) -> tuple:
    """What makes two annotations of one image the same: label, kind, geometry to 3 decimals."""
    box = tuple(None if v is None else round(v, 3) for v in row[3:7])
    geometry = orjson.dumps(_rounded(row[7]), option=orjson.OPT_SORT_KEYS)
    return row[1], row[2], box, geometry


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class ExistingAnnotations:
    """The annotations already on the dataset's images, as a multiset of keys per image (two
    equal boxes stay two), loaded a chunk of planned rows at a time: only images the upload
    names are ever read, and only once."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.any = Annotation.objects.filter(image__dataset=dataset).exists()
        self.loaded: set[int] = set()
        self.keys: dict[int, Counter] = {}

    def without_duplicates(self, rows: list[Row]) -> list[Row]:
        """The rows that are not already there; each existing annotation absorbs one row."""
        if not self.any:
            return rows
        self._load({row[0] for row in rows} - self.loaded)
        kept = []
        for row in rows:
            present = self.keys.get(row[0])
            if present:
                key = row_key(row)
                if present[key] > 0:
                    present[key] -= 1
                    continue
            kept.append(row)
        return kept

    def _load(self, image_ids: set[int]) -> None:
        columns = ("image_id", "label__name", "kind", "xmin", "ymin", "xmax", "ymax", "geometry")
        for ids in _chunks(sorted(image_ids), QUERY_CHUNK):
            found = Annotation.objects.filter(image__dataset=self.dataset, image_id__in=ids)
            for row in found.values_list(*columns):
                self.keys.setdefault(row[0], Counter())[row_key(list(row))] += 1
        self.loaded |= image_ids


# --- apply --------------------------------------------------------------------------------------

STAGE_ROWS = 20_000  # rows per INSERT into the staging table (each a commit of its own)
STAGE_VALUES = 100  # rows per INSERT statement: 800 values, within SQLite's oldest limit (999)
STAGED = "nexus_staged_annotations"  # temporary tables: this connection's own, gone with it
STAGED_LABELS = "nexus_staged_labels"
_STAGED_COLUMNS = {  # vendor -> column types of the staged rows
    "sqlite": ("INTEGER PRIMARY KEY", "INTEGER", "INTEGER", "TEXT", "REAL", "TEXT"),
    "postgresql": ("bigserial PRIMARY KEY", "bigint", "integer", "varchar(10)",
                   "double precision", "jsonb"),
}


def plan_apply(*, dataset: Dataset, plan: Plan, guard: Callable[[], None] | None = None,
               finish: Callable[[dict], None] | None = None) -> dict:
    """Write the plan: everything, or (on any error) nothing, and all of it visible at once.

    The rows are first copied into a temporary table of this connection, checked against the
    dataset's images and annotations as they are then; writing there takes no lock that other
    writers wait for. The one transaction then creates the labels and skeletons and copies the
    rows over with one INSERT ... SELECT: SQLite's write lock is held for about a second per
    million rows (a re-import of duplicates: for no time at all), not for the whole import.

    `guard` runs first inside the transaction (the worker checks it still owns the job),
    `finish` last (the worker's conditional "finished" update; raising rolls everything back)."""
    connection = connections[router.db_for_write(Annotation)]
    with fewer_collections(), _staging(connection), _references_checked_here(connection):
        staged = _stage(dataset, plan, connection)
        with transaction.atomic(using=connection.alias):
            if guard is not None:
                guard()
            if not Dataset.objects.filter(pk=dataset.pk).exists():
                raise ImportRefused(f"The dataset {dataset.name!r} was deleted; nothing was "
                                    "imported.")
            before = set(dataset.labels.values_list("name", flat=True))
            label_ids = label_ids_get_or_create(dataset=dataset, names=plan.labels)
            skeletons = _apply_skeletons(dataset, plan.skeletons, dict(zip(plan.labels,
                                                                           label_ids)))
            alive = staged.images & set(Image.objects.filter(dataset=dataset)
                                        .values_list("id", flat=True))
            written = _copy_staged(connection, dataset, label_ids)
            counts = {"annotations": written, "images": len(alive),
                      "labels_created": len([n for n in plan.labels if n not in before]),
                      "skeletons": skeletons, "already_in_dataset": staged.skipped,
                      "images_gone": len(staged.gone | (staged.images - alive)),
                      "sets_recorded": _record_sets(dataset, plan)}
            if written:
                Dataset.objects.filter(pk=dataset.pk).update(
                    annotations_version=F("annotations_version") + 1)
            if finish is not None:
                finish(counts)
    return counts


class _references_checked_here:
    """SQLite's own foreign-key checks switched off while the plan is written, where the
    database allows it (SQLite, outside a transaction; elsewhere nothing changes).

    They look every copied row's image and label up again: about a second per million rows, a
    quarter of the copy. The copy needs none of it: its JOIN keeps only rows whose image is in the
    dataset, the label ids are read or created in the same transaction, and plan_apply checks
    the dataset is still there once the transaction holds the write lock."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.switched = False

    def __enter__(self) -> None:
        if not self.connection.in_atomic_block:
            self.switched = self.connection.disable_constraint_checking()

    def __exit__(self, kind, error, trace) -> None:
        if not self.switched:
            return
        try:
            self.connection.enable_constraint_checking()
        except DatabaseError:
            self.connection.close()  # never reused unchecked: the next connection checks again
            if error is None:
                raise


def _record_sets(dataset: Dataset, plan: Plan) -> int:
    """Each matched image remembers the set it came in (the `keep` split mode's input)."""
    recorded = 0
    for set_name, image_ids in plan.image_sets.items():
        for chunk in _chunks(image_ids, QUERY_CHUNK):
            recorded += Image.objects.filter(dataset=dataset, id__in=chunk) \
                .update(recorded_set=set_name)
    return recorded


@dataclass
class _Staged:
    images: set[int] = field(default_factory=set)  # images that have rows staged
    gone: set[int] = field(default_factory=set)  # images deleted since the preview
    skipped: int = 0  # rows already in the dataset


def _stage(dataset: Dataset, plan: Plan, connection) -> _Staged:
    """The plan's rows that are still to write, into the staging table (reads only)."""
    alive = set(Image.objects.filter(dataset=dataset).values_list("id", flat=True))
    existing = ExistingAnnotations(dataset)
    position = {name: i for i, name in enumerate(plan.labels)}
    staged, pending = _Staged(), []
    for chunk in plan.chunks():
        here = [row for row in chunk if row[0] in alive]
        if len(here) < len(chunk):
            staged.gone.update(row[0] for row in chunk if row[0] not in alive)
        rows = existing.without_duplicates(here)
        staged.skipped += len(here) - len(rows)
        staged.images.update(map(itemgetter(0), rows))
        pending += rows
        if len(pending) >= STAGE_ROWS:
            stage_rows(connection, pending, position)
            pending = []
    stage_rows(connection, pending, position)
    return staged


class _staging:
    """The staging tables, created empty for one import and dropped after it."""

    def __init__(self, connection) -> None:
        self.connection = connection

    def __enter__(self) -> None:
        seq, big, small, text, real, json_type = _STAGED_COLUMNS[self.connection.vendor]
        self._drop()
        with self.connection.cursor() as cursor:
            # x0..y1, not xmin..ymax: PostgreSQL reserves xmin and xmax as system columns.
            cursor.execute(f"CREATE TEMPORARY TABLE {STAGED} (seq {seq}, image_id {big}, "
                           f"label {small}, kind {text}, x0 {real}, y0 {real}, x1 {real}, "
                           f"y1 {real}, geometry {json_type})")
            cursor.execute(f"CREATE TEMPORARY TABLE {STAGED_LABELS} (position {small} PRIMARY "
                           f"KEY, label_id {big})")

    def __exit__(self, kind, error, trace) -> None:
        try:
            self._drop()
        except DatabaseError:
            if error is None:
                raise  # else the import's own error says more (the tables go with the connection)

    def _drop(self) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {STAGED}")
            cursor.execute(f"DROP TABLE IF EXISTS {STAGED_LABELS}")


def stage_rows(connection, rows: list[Row], position: dict[str, int]) -> None:
    """INSERT the rows into the staging table as plain values (no model instances), the label as
    its position in the plan. STAGE_VALUES rows go in per statement: binding and stepping one
    statement per row cost four times as much on SQLite (~3 s per million rows); rows that are
    all plain boxes bind six values each, their kind written in the statement."""
    if not rows:
        return
    if all(row[KIND] == "box" and row[GEOMETRY] is None for row in rows):
        one, values = _BOX_ROW, [value for image_id, label, _, x0, y0, x1, y1, _ in rows
                                 for value in (image_id, position[label], x0, y0, x1, y1)]
    else:
        adapt, one, values = _json_adapter(connection), _ANY_ROW, []
        extend = values.extend
        for image_id, label, kind, x0, y0, x1, y1, shape in rows:
            extend((image_id, position[label], kind, x0, y0, x1, y1,
                    None if shape is None else adapt(shape)))
    size = one.count("%s")
    width = size * STAGE_VALUES
    whole = len(values) - len(values) % width
    with connection.cursor() as cursor:
        if whole:
            cursor.executemany(_staging_insert(one, STAGE_VALUES),
                               [values[start:start + width] for start in range(0, whole, width)])
        if whole < len(values):
            cursor.execute(_staging_insert(one, (len(values) - whole) // size), values[whole:])


_ANY_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s)"
_BOX_ROW = "(%s, %s, 'box', %s, %s, %s, %s, NULL)"


def _staging_insert(one: str, rows: int) -> str:
    return (f"INSERT INTO {STAGED} (image_id, label, kind, x0, y0, x1, y1, geometry) VALUES "
            + ", ".join([one] * rows))


INSERT_FIELDS = ("image", "label", "kind", "xmin", "ymin", "xmax", "ymax", "geometry")


def _copy_staged(connection, dataset: Dataset, label_ids: list[int]) -> int:
    """The staged rows of images still in the dataset into the annotations table, in the order
    they were staged (ids as the upload lists them); the number of rows written."""
    meta, image_meta = Annotation._meta, Image._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in INSERT_FIELDS)
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {STAGED_LABELS} (position, label_id) VALUES (%s, %s)",
                           list(enumerate(label_ids)))
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({columns}) "
            f"SELECT s.image_id, m.label_id, s.kind, s.x0, s.y0, s.x1, s.y1, s.geometry "
            f"FROM {STAGED} s JOIN {STAGED_LABELS} m ON m.position = s.label "
            f"JOIN {quote(image_meta.db_table)} i ON i.{quote(image_meta.pk.column)} = "
            f"s.image_id WHERE i.{quote(image_meta.get_field('dataset').column)} = %s "
            f"ORDER BY s.seq", [dataset.pk])
        return cursor.rowcount


def _json_adapter(connection) -> Callable[[object], object]:
    """How a geometry goes in. On SQLite it is JSON text: orjson writes it ~10x faster than the
    json.dumps Django calls (the same values read back; a tenth of a keypoint import's time).
    Elsewhere the backend's own adaptation (jsonb on PostgreSQL)."""
    if connection.vendor == "sqlite":
        return lambda shape: orjson.dumps(shape).decode()
    return partial(Annotation._meta.get_field("geometry").get_db_prep_save,
                   connection=connection)


def _apply_skeletons(dataset: Dataset, skeletons: Iterable[dict],
                     label_ids: dict[str, int]) -> int:
    count = 0
    for s in skeletons:
        Skeleton.objects.update_or_create(
            label_id=label_ids[s["label"]],
            defaults={"dataset": dataset, "name": s["name"], "keypoints": s["keypoints"],
                      "connections": s["connections"], "flip_pairs": s["flip_pairs"]})
        count += 1
    return count
