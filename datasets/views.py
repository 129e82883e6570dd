from __future__ import annotations

import mimetypes

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from . import services
from .images import images_import_files
from .models import Dataset
from .panels import panels_context
from .selectors import dataset_counts, dataset_for, datasets_for, image_for
from .thumbnails import ensure_thumbnail
from .upload_folders import upload_create, upload_remove
from .uploads import UploadRefused, csrf_rejection, is_script, limit_context, receive_files


@require_GET
def dataset_list(request: HttpRequest) -> HttpResponse:
    return render(request, "datasets/list.html", {"datasets": datasets_for(request.user)})


@require_GET
def dataset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The page, with the panels other apps registered (datasets/panels.py)."""
    dataset = dataset_for(request.user, pk)
    context = {"dataset": dataset, "tab": "annotations", **panels_context(request, dataset)}
    return render(request, "datasets/detail.html", context)


@require_http_methods(["GET", "POST"])
def dataset_create(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "datasets/form.html", {"mode": "create"})
    try:
        dataset = services.dataset_create(owner=request.user, name=request.POST.get("name", ""))
    except ValueError as exc:
        return render(request, "datasets/form.html",
                      {"mode": "create", "error": str(exc), "name": request.POST.get("name", "")},
                      status=422)
    return redirect("datasets:detail", dataset.pk)


@require_http_methods(["GET", "POST"])
def dataset_rename(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = dataset_for(request.user, pk)
    context = {"mode": "rename", "dataset": dataset, "name": dataset.name}
    if request.method == "GET":
        return render(request, "datasets/form.html", context)
    try:
        services.dataset_rename(dataset=dataset, name=request.POST.get("name", ""))
    except ValueError as exc:
        dataset.refresh_from_db()
        context.update(error=str(exc), name=request.POST.get("name", ""))
        return render(request, "datasets/form.html", context, status=422)
    return redirect("datasets:detail", dataset.pk)


@require_http_methods(["GET", "POST"])
def dataset_delete(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = dataset_for(request.user, pk)
    if request.method == "POST":
        services.dataset_delete(dataset=dataset)
        return redirect("datasets:list")
    return render(request, "datasets/delete.html",
                  {"dataset": dataset, "counts": dataset_counts(dataset)})


@csrf_exempt  # the body is read by our own upload handler first; csrf_rejection() runs after
@require_http_methods(["GET", "POST"])
def images_upload(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = dataset_for(request.user, pk)  # someone else's dataset: 404, nothing read
    if request.method == "GET":
        return render(request, "datasets/upload_images.html",
                      {"dataset": dataset, **limit_context()})
    upload_id, folder = upload_create("img-")
    try:
        files = receive_files(request, folder / "content")
        rejected = csrf_rejection(request)
        if rejected is not None:
            return rejected
        report = images_import_files(dataset=dataset, files=files)
    except UploadRefused as exc:
        return _upload_page(request, dataset, None, exc.message, exc.status)
    finally:
        upload_remove(upload_id)
    status = 200 if report.anything_stored or not report.lines else 422
    return _upload_page(request, dataset, report, "", status)


def _upload_page(request: HttpRequest, dataset: Dataset, report, error: str,
                 status: int) -> HttpResponse:
    context = {"dataset": dataset, "report": report, "error": error, **limit_context()}
    template = "datasets/upload_report.html" if is_script(request) else \
        "datasets/upload_images.html"
    return render(request, template, context, status=status)


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
    return _private_file(image.file.name, image.file.name)  # the type of the decoded format
