"""Annotation imports, step one: analyse an upload into a preview and a plan; writes nothing.

    analyse_source(source, dataset)  detect the format, read, match images by name, clean
                                     geometry and labels -> Analysis(report, plan)
    plans.plan_apply(dataset, plan)  step two, after the user confirmed: all or nothing

Uploads are read one image at a time (a large COCO file as a stream) and the plan's rows are
spooled to a file: memory stays flat whatever the upload's size.

The web request (small uploads), the worker (large or TensorFlow ones) and the shell command run
exactly these.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from annotations.formats.errors import FormatError, UnknownFormat
from annotations.formats.families.skeletons_file import read_skeletons_file
from annotations.formats.io.collector import fewer_collections
from annotations.formats.io.reading import detect_formats, read_by_set
from annotations.formats.io.sizes import SizeLookup
from annotations.formats.io.source import Source, UnsafeArchive
from annotations.formats.records import KINDS, ReadResult
from annotations.formats.records import Skeleton as SkeletonRecord
from annotations.formats.spec import ReadContext
from annotations.formats.splits import SET_NAMES
from datasets.models import Dataset, Skeleton

from .cleaning import Fixes, clean_annotation
from .formats import registry
from .mapping import annotation_values
from .matching import ImageIndex, ImportRefused, LabelPlan, has_folder
from .plans import Plan, PlanWriter

SKELETONS_ONLY = "skeletons"  # an upload holding nothing but skeletons.json (FORMATS.md §5)
EXAMPLES = 5

__all__ = ["Analysis", "ImportRefused", "analyse_source", "uses_tensorflow"]


def uses_tensorflow(format_id: str | None) -> bool:
    """TFRecord readers load TensorFlow (~490 MB): they only ever run in the worker."""
    return format_id in registry.BUILTIN_FORMATS and registry.get_spec(format_id).needs_tensorflow


@dataclass
class Analysis:
    report: dict
    plan: Plan


# --- analyse ------------------------------------------------------------------------------------

def choose_format(source: Source, format_id: str | None) -> tuple[str, list[dict]]:
    """The format to read (the user's choice, else the most confident detection)."""
    if format_id:
        try:
            registry.get_spec(format_id)
        except UnknownFormat:
            raise ImportRefused(f"Unknown annotation format {format_id!r}.", 400) from None
        return format_id, []
    found = detect_formats(source)
    candidates = [{"id": f, "name": registry.get_spec(f).name, "score": s} for f, s in found]
    if found:
        return found[0][0], candidates
    if _skeleton_files(source):
        return SKELETONS_ONLY, []
    raise ImportRefused("No annotation format was recognised in the upload. Choose the format, "
                        "or check the files: FORMATS.md lists the layouts that are read.")


def _skeleton_files(source: Source) -> list[str]:
    return [p for p in source.files() if posixpath.basename(p) == "skeletons.json"]


def read_upload(source: Source, format_id: str, context: ReadContext) -> ReadResult:
    if format_id == SKELETONS_ONLY:
        return ReadResult(images=[])
    module = registry.get_format(format_id)
    try:
        return read_by_set(lambda part: module.read(part, context), source)
    except (FormatError, UnsafeArchive) as exc:
        raise ImportRefused(str(exc)) from None


def _skeletons(source: Source, result: ReadResult, dataset: Dataset) -> list[SkeletonRecord]:
    """The reader's skeletons, overridden by any skeletons.json in the upload. A skeleton the
    reader made up (YOLO pose: points kp0…) gives way to the dataset's own of the same size;
    one of another size is refused (the label's stored instances would no longer fit)."""
    found = {s.label: s for s in result.skeletons}
    for path in _skeleton_files(source):
        try:
            found.update((s.label, s) for s in read_skeletons_file(source, path))
        except FormatError as exc:
            raise ImportRefused(str(exc)) from None
    inferred = [s for s in found.values() if s.inferred]
    if inferred:
        current = {s.label.name: len(s.keypoints) for s in Skeleton.objects.filter(
            dataset=dataset, label__name__in=[s.label for s in inferred]).select_related("label")}
        for skeleton in inferred:
            size = current.get(skeleton.label)
            if size == len(skeleton.keypoints):
                del found[skeleton.label]
            elif size is not None:
                raise ImportRefused(
                    f"{skeleton.label!r} has a skeleton of {size} points in this dataset and "
                    f"the upload's keypoints have {len(skeleton.keypoints)} (kpt_shape); upload "
                    f"a skeletons.json for it or import into another dataset.")
    return list(found.values())


def analyse_source(*, source: Source, dataset: Dataset, format_id: str | None = None,
                   upload_name: str = "upload", rows_folder: Path | None = None) -> Analysis:
    """The preview and the plan of importing `source` into `dataset`; writes nothing to the
    database. The plan's rows go to a new file in `rows_folder` (the system's temporary folder
    by default) as the upload is read, one image at a time."""
    format_id, candidates = choose_format(source, format_id)
    index = ImageIndex(dataset, renames=SizeLookup(source, ReadContext()).original)
    labels = LabelPlan(existing=list(dataset.labels.values_list("name", flat=True)))
    context = ReadContext(image_sizes=index.sizes(), labels=list(labels.existing), stream=True,
                          stream_bytes=settings.NEXUS_STREAM_JSON_BYTES)
    result = read_upload(source, format_id, context)
    skeletons = _skeletons(source, result, dataset)
    labels.declare(list(result.labels))
    writer = PlanWriter(dataset, rows_folder)
    try:
        builder = _PlanBuilder(index, labels, writer)
        try:
            with fewer_collections():
                for record in result.images:
                    builder.add_image(record)
        except (FormatError, UnsafeArchive) as exc:  # a streaming reader fails part-way
            raise ImportRefused(str(exc)) from None
        plan = writer.close()
        plan.image_sets = builder.image_sets()
        for skeleton in skeletons:
            plan.skeletons.append(_skeleton_dict(skeleton, labels.use(skeleton.label)))
        labels.check_limit()
    except BaseException:
        writer.abandon()  # the rows file goes with the refusal
        raise
    plan.labels = list(labels.order)
    report = builder.report(labels, _skeleton_actions(dataset, plan.skeletons))
    spec_name = "skeletons.json" if format_id == SKELETONS_ONLY else \
        registry.get_spec(format_id).name
    report.update(upload=upload_name, format=format_id, format_name=spec_name,
                  candidates=candidates[1:], files=len(source.files()),
                  notes=list(result.notes) + _size_notes(builder.size_mismatch))
    return Analysis(report=report, plan=plan)


class _PlanBuilder:
    def __init__(self, index: ImageIndex, labels: LabelPlan, writer: PlanWriter) -> None:
        self.index, self.labels, self.writer, self.fixes = index, labels, writer, Fixes()
        self.names: set[str] = set()  # an image may come in several records (COCO streamed)
        self.unmatched: dict[str, int] = {}  # name -> annotations it carried
        self.folders_ignored: list[str] = []  # matched names written with folders (examples)
        self.folders_ignored_count = 0
        self.size_mismatch: list[str] = []
        self.matched: set[int] = set()
        self.sets: dict[int, str] = {}  # image id -> the set folder it came in
        self.label_names: dict[str, str] = {}  # label as written -> as planned

    def image_sets(self) -> dict[str, list[int]]:
        found: dict[str, list[int]] = {}
        for image_id, set_name in self.sets.items():
            found.setdefault(set_name, []).append(image_id)
        return found

    def add_image(self, record) -> None:
        self.names.add(record.file_name)
        match = self.index.find(record.file_name)
        if match is None:
            self.unmatched[record.file_name] = (self.unmatched.get(record.file_name, 0)
                                                + len(record.annotations))
            return
        written = f"{record.folder}/{record.file_name}" if record.folder else record.file_name
        if match.id not in self.matched and has_folder(written) and written != match.name:
            self.folders_ignored_count += 1
            if len(self.folders_ignored) < EXAMPLES:
                self.folders_ignored.append(written)
        if (match.id not in self.matched and record.width > 0
                and (record.width, record.height) != (match.width, match.height)):
            self.size_mismatch.append(f"{record.file_name}: {record.width}×{record.height} in "
                                      f"the file, {match.width}×{match.height} in the dataset")
        self.matched.add(match.id)
        if record.set_name:
            self.sets.setdefault(match.id, record.set_name)
        width, height, image_id, rows = match.width, match.height, match.id, []
        names, use = self.label_names, self._use
        for annotation in record.annotations:
            if annotation.kind == "box" and annotation.box is not None:
                x0, y0, x1, y1 = annotation.box
                if 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height:  # nothing to clean
                    label = names.get(annotation.label) or use(annotation.label)
                    rows.append([image_id, label, "box", x0, y0, x1, y1, None])
                    continue
            cleaned = clean_annotation(annotation, width, height, match.name, self.fixes)
            if cleaned is not None:
                rows.append([image_id, use(annotation.label), *annotation_values(cleaned)])
        self.writer.extend(rows)

    def _use(self, raw: str) -> str:
        """The label plan's name for `raw`, asked once per spelling (using it again changes
        nothing in the plan)."""
        name = self.label_names[raw] = self.labels.use(raw)
        return name

    def report(self, labels: LabelPlan, skeletons: list[dict]) -> dict:
        writer = self.writer
        return {
            "mode": "append",
            "images": {
                "in_upload": len(self.names), "matched": len(self.matched),
                "unmatched": len(self.unmatched),
                "unmatched_examples": list(self.unmatched)[:EXAMPLES],
                "folders_ignored": self.folders_ignored_count,
                "folders_ignored_examples": self.folders_ignored,
                "dataset_total": self.index.count,
                "dataset_without_annotations": self.index.count - len(self.matched),
            },
            "annotations": {
                "total": writer.plan.annotation_count - writer.duplicates,
                "by_kind": {k: writer.kinds[k] for k in KINDS if writer.kinds[k]},
                "on_unmatched_images": sum(self.unmatched.values()),
                "already_in_dataset": writer.duplicates,
            },
            "sets": _set_counts(self.sets),
            "labels": labels.report(),
            "fixes": self.fixes.report(),
            "skeletons": skeletons,
        }


def _set_counts(sets: dict[int, str]) -> dict[str, int]:
    counts = Counter(sets.values())
    return {name: counts[name] for name in SET_NAMES if counts[name]}


def _size_notes(mismatch: list[str]) -> list[str]:
    if not mismatch:
        return []
    shown = "; ".join(mismatch[:EXAMPLES])
    return [f"{len(mismatch)} image(s) have another size in the annotation file than in the "
            f"dataset; the annotations are kept as written and clamped to the image: {shown}"]


def _skeleton_dict(skeleton: SkeletonRecord, label: str) -> dict:
    return {"label": label, "name": (skeleton.name or label)[:100],
            "keypoints": list(skeleton.keypoints),
            "connections": [list(c) for c in skeleton.connections],
            "flip_pairs": [list(p) for p in skeleton.flip_pairs]}


def _skeleton_actions(dataset: Dataset, skeletons: list[dict]) -> list[dict]:
    current = {s.label.name: s for s in Skeleton.objects.filter(dataset=dataset)
               .select_related("label")}
    actions = []
    for s in skeletons:
        old = current.get(s["label"])
        same = old is not None and [old.name, old.keypoints, old.connections, old.flip_pairs] \
            == [s["name"], s["keypoints"], s["connections"], s["flip_pairs"]]
        action = "create" if old is None else "unchanged" if same else "update"
        actions.append({"label": s["label"], "keypoints": len(s["keypoints"]), "action": action})
    return actions
