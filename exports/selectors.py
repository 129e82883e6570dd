"""Reads for the export pages: jobs lists and what each format family could export."""

from __future__ import annotations

from django.db.models import QuerySet

from annotations.formats import registry
from annotations.formats.spec import FAMILIES, FAMILY_KINDS, FormatSpec
from annotations.formats.splits import SPLIT_MODES
from annotations.mapping import has_recorded_sets
from annotations.models import Annotation
from annotations.selectors import label_kind_counts
from datasets.models import Dataset

from .models import ExportJob


def dataset_jobs(dataset: Dataset) -> QuerySet[ExportJob]:
    return ExportJob.objects.filter(dataset=dataset).order_by("-created_at")


def kind_counts(dataset: Dataset) -> dict[str, int]:
    totals: dict[str, int] = {}
    for (_, kind), n in label_kind_counts(dataset).items():
        totals[kind] = totals.get(kind, 0) + n
    return totals


def family_counts(dataset: Dataset) -> dict[str, int]:
    kinds = kind_counts(dataset)
    return {family: sum(kinds.get(k, 0) for k in family_kinds)
            for family, family_kinds in FAMILY_KINDS.items()}


def has_family(dataset: Dataset, family: str) -> bool:
    """Whether the dataset has any annotation the family exports (an index probe, no count)."""
    return Annotation.objects.filter(label__dataset=dataset,
                                     kind__in=FAMILY_KINDS[family]).exists()


def format_choices(dataset: Dataset) -> list[dict]:
    """The formats grouped by family, each with whether this dataset can export it and why not."""
    counts = family_counts(dataset)
    groups = []
    specs = registry.available_formats()
    for family, title in FAMILIES.items():
        formats: list[FormatSpec] = [s for s in specs if s.family == family]
        if not formats:
            continue
        reason = "" if counts.get(family) else f"This dataset has no {title.lower()} to export."
        groups.append({"family": family, "title": title, "formats": formats,
                       "disabled_reason": reason, "count": counts.get(family, 0)})
    return groups


def split_modes(dataset: Dataset) -> tuple[str, ...]:
    """`keep` is offered only to a dataset whose images came with sets."""
    if has_recorded_sets(dataset):
        return SPLIT_MODES
    return tuple(mode for mode in SPLIT_MODES if mode != "keep")


def who_reads(spec: FormatSpec) -> str:
    """The picker's one line: the description's last clause, which names the tools that read
    the format ("pycocotools, Detectron2 and MMDetection read it."), else all of it."""
    return spec.description.rsplit("; ", 1)[-1].strip()
