"""Reads for dataset pages. Every lookup is scoped to the owner: anyone else gets a 404."""

from __future__ import annotations

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from .models import Dataset, Image


def _count(queryset: QuerySet, group: str) -> Subquery:
    """A correlated COUNT per dataset; no outer GROUP BY, so it stays cheap at any size."""
    return Coalesce(Subquery(queryset.order_by().values(group).annotate(n=Count("pk"))
                             .values("n")), 0)


def datasets_for(user) -> QuerySet[Dataset]:
    # Annotations are counted through Image's reverse relation: datasets never imports the
    # annotations app (it sits below it).
    per_dataset = Image.objects.filter(dataset=OuterRef("pk")).order_by().values("dataset")
    return Dataset.objects.filter(owner=user).annotate(
        image_count=_count(Image.objects.filter(dataset=OuterRef("pk")), "dataset"),
        annotation_count=Coalesce(Subquery(per_dataset.annotate(n=Count("annotations"))
                                           .values("n")), 0),
    )


def dataset_counts(dataset: Dataset) -> dict[str, int]:
    """What deleting the dataset removes: its images, labels and annotations."""
    return {"images": dataset.images.count(), "labels": dataset.labels.count(),
            "annotations": Image.objects.filter(dataset=dataset).aggregate(
                n=Count("annotations"))["n"]}


def dataset_for(user, pk: int) -> Dataset:
    return get_object_or_404(Dataset, pk=pk, owner=user)


def image_for(user, pk: int) -> Image:
    return get_object_or_404(Image.objects.select_related("dataset"), pk=pk,
                             dataset__owner=user)
