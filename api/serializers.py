"""Model -> JSON, as plain functions. The shapes are the schemas of openapi.py."""

from __future__ import annotations

from datetime import UTC, datetime

from django.http import HttpRequest
from django.urls import reverse

from annotations.formats.spec import FAMILIES, FormatSpec
from datasets.models import Dataset
from exports import links
from exports.models import ExportJob
from exports.selectors import family_counts, kind_counts
from exports.services import is_expired

from .selectors import KINDS, kind_counts_by_label


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, as JavaScript and `datetime.fromisoformat` both read it."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def dataset_json(request: HttpRequest, dataset: Dataset) -> dict:
    """A list row; `datasets_for` annotates image_count and annotation_count."""
    return {
        "id": dataset.pk,
        "name": dataset.name,
        "created": iso(dataset.created),
        "image_count": dataset.image_count,
        "annotation_count": dataset.annotation_count,
        "url": request.build_absolute_uri(reverse("api:dataset", args=[dataset.pk])),
    }


def dataset_detail_json(request: HttpRequest, dataset: Dataset) -> dict:
    kinds = kind_counts(dataset)
    by_label = kind_counts_by_label(dataset)
    return {
        **dataset_json(request, dataset),
        "annotation_counts": {kind: kinds.get(kind, 0) for kind in KINDS},
        # What each format family would export: a family at 0 is refused with a 400.
        "family_counts": family_counts(dataset),
        "labels": [{"id": label.pk, "name": label.name, "color": label.color,
                    "annotation_counts": dict(by_label[label.pk])}
                   for label in dataset.labels.all()],
        "exports_url": request.build_absolute_uri(reverse("api:dataset_exports",
                                                          args=[dataset.pk])),
    }


def format_json(spec: FormatSpec) -> dict:
    return {
        "id": spec.id,
        "name": spec.name,
        "family": spec.family,
        "family_name": FAMILIES[spec.family],
        "normalized": spec.normalized,
        "images_always_included": spec.images_always_included,
        "description": spec.description,
    }


def job_json(request: HttpRequest, job: ExportJob) -> dict:
    finished = job.status == ExportJob.Status.FINISHED
    expired = finished and is_expired(job)
    return {
        "id": str(job.pk),
        "url": request.build_absolute_uri(reverse("api:export", args=[job.pk])),
        "dataset": job.dataset_id,
        "format": job.format,
        "options": job.export_options.as_json(),
        "status": job.get_status_display(),
        "progress": {"done": job.progress_done, "total": job.progress_total,
                     "percent": job.percent},
        "counts": job.counts or {},
        "error": job.error or None,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "expires_at": iso(job.expires_at),
        "expired": expired,
        "file": ({"name": job.file_name, "size": job.file_size, "sha256": job.sha256}
                 if finished and job.file_name else None),
        "download": _download(request, job) if downloadable(job) else None,
    }


def downloadable(job: ExportJob) -> bool:
    """From the row alone: no storage call per job (the zips may be in object storage)."""
    return (job.status == ExportJob.Status.FINISHED and bool(job.file_path)
            and job.file_deleted_at is None and not is_expired(job))


def _download(request: HttpRequest, job: ExportJob) -> dict:
    return {"method": "GET", "url": request.build_absolute_uri(links.signed_path(job)),
            "expiry_date": iso(job.expires_at)}
