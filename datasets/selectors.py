"""Reads for dataset pages. Every lookup is scoped to the owner: anyone else gets a 404."""

from __future__ import annotations

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from .models import Dataset, Image


def datasets_for(user) -> QuerySet[Dataset]:
    from annotations.models import Annotation

    annotation_count = (Annotation.objects.filter(image__dataset=OuterRef("pk")).order_by()
                        .values("image__dataset").annotate(n=Count("id")).values("n"))
    return (Dataset.objects.filter(owner=user)
            .annotate(image_count=Count("images", distinct=True),
                      annotation_count=Coalesce(Subquery(annotation_count), 0)))


def dataset_for(user, pk: int) -> Dataset:
    return get_object_or_404(Dataset, pk=pk, owner=user)


def image_for(user, pk: int) -> Image:
    return get_object_or_404(Image.objects.select_related("dataset"), pk=pk,
                             dataset__owner=user)
