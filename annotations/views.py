from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from datasets.models import Dataset
from datasets.selectors import dataset_for

from .selectors import image_page, label_summary


def annotations_tab_context(request: HttpRequest, dataset: Dataset) -> dict:
    return {"labels": label_summary(dataset), "page": image_page(dataset, request.GET.get("page"))}


@require_GET
def annotations_tab(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = dataset_for(request.user, pk)
    context = {"dataset": dataset, **annotations_tab_context(request, dataset)}
    if request.htmx:
        return render(request, "annotations/tab.html", context)
    from exports.views import jobs_context

    context.update(jobs_context(request, dataset), tab="annotations")
    return render(request, "datasets/detail.html", context)
