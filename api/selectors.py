"""Reads of the API. Every lookup is scoped to the user: anything else is a 404."""

from __future__ import annotations

from collections import defaultdict

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F, QuerySet
from django.shortcuts import get_object_or_404

from annotations.models import Annotation
from annotations.selectors import label_kind_counts
from datasets.models import Dataset
from exports.models import ExportJob

from .models import ApiToken

KINDS = [kind.value for kind in Annotation.Kind]


def tokens_for(user: AbstractBaseUser) -> QuerySet[ApiToken]:
    """Active tokens first (NULLs sort differently in SQLite and PostgreSQL: say it)."""
    return ApiToken.objects.filter(owner=user).order_by(F("revoked").desc(nulls_first=True),
                                                        "-created", "-id")


def token_for(user: AbstractBaseUser, pk: int) -> ApiToken:
    return get_object_or_404(ApiToken, pk=pk, owner=user)


def job_for(user: AbstractBaseUser, job_id: object) -> ExportJob:
    return get_object_or_404(ExportJob, pk=job_id, owner=user, dataset__owner=user)


def dataset_jobs_for(user: AbstractBaseUser, dataset: Dataset) -> QuerySet[ExportJob]:
    return ExportJob.objects.filter(dataset=dataset, owner=user).order_by("-created_at", "-pk")


def kind_counts_by_label(dataset: Dataset) -> dict[int, dict[str, int]]:
    """label id -> {kind: count} for every kind (zeros included, so the keys are stable)."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(KINDS, 0))
    for (label_id, kind), n in label_kind_counts(dataset).items():
        counts[label_id][kind] = n
    return counts
