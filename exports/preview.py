"""What an export with these options will write, before Export: images and annotations per class
in train / valid / test, warnings, and one line per conversion or drop (FORMATS.md §2).

Read from the database (grouped queries and the same split and class-list functions the
pipeline runs), not by running the export.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from annotations import mapping
from annotations.formats.labels import ClassPlan, class_ids, class_plan, conversions, describe
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
    options = options.for_format(spec)
    if options.seed is None:  # a preview of "a new random seed": any seed shows the sizes
        options = replace(options, seed=0)
    counts = mapping.dataset_label_kinds(dataset)
    plan = class_plan(mapping.dataset_labels(dataset), counts, spec, options)
    kinds = FAMILY_KINDS[spec.family]
    per_image = mapping.image_label_counts(dataset, kinds)  # id -> {label name: annotations}
    ids = mapping.image_ids_in_upload_order(dataset)
    split = order_and_split(ids, options, classes=class_ids(per_image, plan),
                            hashes=mapping.image_checksums(dataset)
                            if options.split_mode == "stable" else None)
    skips_empty = spec.skips_empty or options.annotated_only
    sets, left_out = [], 0
    for name, set_ids in split.items():
        preview = SetPreview(name)
        for image_id in set_ids:
            written = _written(per_image.get(image_id), plan)
            if skips_empty and not written:
                left_out += 1
                continue
            preview.images += 1
            for class_name, n in written.items():
                cell = preview.classes.setdefault(class_name, [0, 0])
                cell[0] += 1
                cell[1] += n
                preview.annotations += n
        if preview.images:
            sets.append(preview)
    converted, dropped = conversions(counts, plan, spec)
    classes = [label.name for label in plan.classes]
    return ExportPreview(classes, sets, describe(converted, dropped, spec),
                         _warnings(classes, sets, left_out, spec), left_out)


def _written(labels: dict[str, int] | None, plan: ClassPlan) -> dict[str, int]:
    written: dict[str, int] = {}
    for name, n in (labels or {}).items():
        class_name = plan.class_of.get(name)
        if class_name is not None:
            written[class_name] = written.get(class_name, 0) + n
    return written


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
