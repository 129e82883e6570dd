from __future__ import annotations

import mimetypes

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .selectors import dataset_for, datasets_for, image_for
from .thumbnails import ensure_thumbnail


@require_GET
def dataset_list(request: HttpRequest) -> HttpResponse:
    return render(request, "datasets/list.html", {"datasets": datasets_for(request.user)})


@require_GET
def dataset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    from annotations.views import annotations_tab_context
    from exports.views import jobs_context

    dataset = dataset_for(request.user, pk)
    context = {"dataset": dataset, "tab": "annotations"}
    context.update(annotations_tab_context(request, dataset))
    context.update(jobs_context(request, dataset))
    return render(request, "datasets/detail.html", context)


def _private_file(name: str, filename: str) -> FileResponse:
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    response = FileResponse(default_storage.open(name, "rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
def image_thumbnail(request: HttpRequest, pk: int) -> FileResponse:
    image = image_for(request.user, pk)
    return _private_file(ensure_thumbnail(image), "thumb.jpg")


@require_GET
def image_file(request: HttpRequest, pk: int) -> FileResponse:
    image = image_for(request.user, pk)
    return _private_file(image.file.name, image.original_name)
