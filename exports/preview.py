"""What an export with these options will write, before Export: images and annotations per class
in train / valid / test, warnings, and one line per conversion or drop (FORMATS.md §2).

Read from the database (grouped queries and the same split and class-list functions the
pipeline runs), not by running the export.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from annotations import mapping
from annotations.formats.labels import (
    check_skeleton_sizes,
    class_plan,
    conversions,
    describe,
    describe_class_folders,
)
from annotations.formats.options import ExportOptions
from annotations.formats.pipeline import order_and_split
from annotations.formats.spec import FAMILY_KINDS, FormatSpec
from datasets.models import Dataset


@dataclass
class SetPreview:
    name: str
    images: int = 0
    annotations: int = 0
    classes: dict[str, list[int]] = field(default_factory=dict)  # class -> [images, annotations]


@dataclass
class ExportPreview:
    classes: list[str]
    sets: list[SetPreview]
    conversions: list[str]
    warnings: list[str]
    left_out: int = 0  # images not written (no annotation where the format needs one)

    def rows(self) -> list[dict]:
        """One row per class: its images/annotations in each written set (the popup's table)."""
        return [{"name": name, "cells": [s.classes.get(name, [0, 0]) for s in self.sets]}
                for name in self.classes]


def label_choices(dataset: Dataset, spec: FormatSpec) -> list[dict]:
    """The dataset's labels for the popup's list: the family's annotation count of each, and
    whether the default selection (FORMATS.md §1) takes it."""
    counts = mapping.dataset_label_kinds(dataset)
    labels = mapping.dataset_labels(dataset)
    default = set(class_plan(labels, counts, spec, ExportOptions()).selected)
    takes = FAMILY_KINDS[spec.family]
    return [{"name": label.name, "selected": label.name in default,
             "count": sum(counts.get((label.name, kind), 0) for kind in takes),
             "other": sum(n for (name, kind), n in counts.items()
                          if name == label.name and kind not in takes)}
            for label in labels]


def export_preview(dataset: Dataset, spec: FormatSpec, options: ExportOptions) -> ExportPreview:
    import numpy as np

    options = options.for_format(spec)
    if options.seed is None:  # a preview of "a new random seed": any seed shows the sizes
        options = replace(options, seed=0)
    counts = mapping.kept_per_version(dataset, ("label kinds",),
                                      lambda: mapping.dataset_label_kinds(dataset))
    plan = class_plan(mapping.dataset_labels(dataset), counts, spec, options)
    check_skeleton_sizes(plan, mapping.dataset_skeletons(dataset), spec, counts)  # YOLO pose
    matrix = mapping.label_matrix(dataset, FAMILY_KINDS[spec.family])
    upload_order = mapping.image_ids_in_upload_order(dataset)
    image_ids = np.sort(np.asarray(upload_order, dtype=np.int64))  # read now: images change
    where = np.searchsorted(image_ids, matrix.image).clip(0, max(len(image_ids) - 1, 0))
    alive = image_ids[where] == matrix.image if len(image_ids) else matrix.image < 0
    index = {label.name: i for i, label in enumerate(plan.classes)}
    to_class = np.array([index[plan.class_of[n]] if n in plan.class_of else -1
                         for n in matrix.label_names] or [-1], dtype=np.int64)
    pair_class = to_class[matrix.label] if len(matrix.label) else matrix.label
    kept = (pair_class >= 0) & alive
    image, cls, n = where[kept], pair_class[kept], matrix.count[kept]  # image: its position
    classes = None
    if options.split_mode == "stratified":
        classes = {}
        for i, c in zip(image_ids[image].tolist(), cls.tolist(), strict=True):
            classes.setdefault(i, set()).add(c)
    hashes, recorded = mapping.split_inputs(dataset, options.split_mode)
    split = order_and_split(upload_order, options,
                            classes={i: tuple(c) for i, c in (classes or {}).items()},
                            hashes=hashes, recorded=recorded)
    set_of = np.full(len(image_ids), -1, dtype=np.int64)
    for code, set_ids in enumerate(split.values()):
        set_of[np.searchsorted(image_ids, np.asarray(set_ids, dtype=np.int64))] = code
    has_any = np.zeros(len(image_ids), dtype=bool)
    has_any[image] = True
    merged = len(set(plan.class_of.values())) < len(plan.class_of)
    n_classes = max(len(plan.classes), 1)
    pair_set = set_of[image]
    skips_empty = spec.skips_empty or options.annotated_only
    sets, left_out = [], 0
    for code, (name, set_ids) in enumerate(split.items()):
        here = pair_set == code
        written = int(np.count_nonzero(has_any[set_of == code]))
        images = written if skips_empty else len(set_ids)
        left_out += len(set_ids) - images
        if not images:
            continue
        annotations = np.bincount(cls[here], weights=n[here], minlength=n_classes)
        pairs = cls[here] if not merged else np.unique(image[here] * n_classes + cls[here]) \
            % n_classes
        with_class = np.bincount(pairs, minlength=n_classes)
        if spec.counts_per_class_folder:  # an image counts once in each of its class folders
            images = int(with_class.sum())
        preview = SetPreview(name, images, int(annotations.sum()))
        preview.classes = {c.name: [int(with_class[i]), int(annotations[i])]
                           for i, c in enumerate(plan.classes) if with_class[i]}
        sets.append(preview)
    converted, dropped = conversions(counts, plan, spec)
    lines = describe(converted, dropped, spec)
    if spec.counts_per_class_folder:
        lines += describe_class_folders(_in_several_classes(image, cls, n_classes))
    names = [label.name for label in plan.classes]
    return ExportPreview(names, sets, lines, _warnings(names, sets, left_out, spec), left_out)


def _in_several_classes(image, cls, n_classes: int) -> int:
    """Images (positions, one per (image, label) pair) with two or more distinct classes."""
    import numpy as np

    distinct = np.unique(image * n_classes + cls) // n_classes
    return int(np.count_nonzero(np.bincount(distinct) >= 2)) if len(distinct) else 0


def sets_line(dataset: Dataset, spec: FormatSpec, options: ExportOptions) -> str:
    """"8 train / 4 test": the images each written set will get (the confirmation after Export)."""
    sets = export_preview(dataset, spec, options).sets
    return " / ".join(f"{s.images} {s.name}" for s in sets) or "no images"


def _warnings(classes: list[str], sets: list[SetPreview], left_out: int,
              spec: FormatSpec) -> list[str]:
    warnings = []
    for name in classes:
        missing = [s.name for s in sets if name not in s.classes]
        if missing and len(missing) < len(sets):
            warnings.append(f"{name!r} has no image in {' or '.join(missing)}.")
        elif missing:
            warnings.append(f"{name!r} has no annotation {spec.name} can write.")
    if left_out:
        warnings.append(f"{left_out} image{'s' if left_out != 1 else ''} with nothing to write "
                        f"will be left out.")
    return warnings
