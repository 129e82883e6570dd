from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from datasets.models import Dataset
from datasets.selectors import dataset_for
from datasets.upload_folders import upload_create, upload_remove
from datasets.uploads import (
    UploadRefused,
    csrf_rejection,
    is_script,
    limit_context,
    receive_files,
)

from . import services
from .formats import registry
from .models import ImportJob
from .selectors import image_page, image_with_drawables, import_job_for, label_summary, report_kinds


def annotations_tab_context(request: HttpRequest, dataset: Dataset) -> dict:
    return {"page": image_page(dataset, request.GET.get("page"))}


@require_GET
def labels_legend(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = dataset_for(request.user, pk)
    return render(request, "annotations/legend.html", {"labels": label_summary(dataset)})


@require_GET
def annotations_tab(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = dataset_for(request.user, pk)
    if not request.htmx:  # a link opened in a new tab: the dataset page, at the same page
        page = request.GET.get("page", "")
        query = f"?page={page}" if page.isdigit() else ""
        return redirect(reverse("datasets:detail", args=[dataset.pk]) + query)
    context = {"dataset": dataset, **annotations_tab_context(request, dataset)}
    return render(request, "annotations/tab.html", context)


# --- upload -------------------------------------------------------------------------------------

def format_choice(value: str) -> str | None:
    value = value.strip()
    if value in ("", "auto"):
        return None
    if value not in registry.format_ids():
        raise UploadRefused(f"Unknown annotation format {value!r}.", 400)
    return value


def _upload_page(request: HttpRequest, dataset: Dataset, *, error: str = "", chosen: str = "",
                 status: int = 200) -> HttpResponse:
    if error and is_script(request):
        return render(request, "annotations/upload_error.html", {"error": error}, status=status)
    context = {"dataset": dataset, "formats": registry.available_formats(), "error": error,
               "chosen": chosen, **limit_context()}
    return render(request, "annotations/upload.html", context, status=status)


@csrf_exempt  # the body is read by our own upload handler first; csrf_rejection() runs after
@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = dataset_for(request.user, pk)  # someone else's dataset: 404, nothing read
    if request.method == "GET":
        return _upload_page(request, dataset)
    upload_id, folder = upload_create()
    try:
        files = receive_files(request, folder / "content", keep_names=True)
        rejected = csrf_rejection(request)
        if rejected is not None:
            upload_remove(upload_id)
            return rejected
        name = files[0].name if len(files) == 1 else f"{files[0].name} and {len(files) - 1} more"
        job = services.import_upload_start(
            owner=request.user, dataset=dataset, upload_id=upload_id, original_name=name,
            format_id=format_choice(request.POST.get("format", "")))
    except UploadRefused as exc:
        upload_remove(upload_id)
        return _upload_page(request, dataset, error=exc.message, status=exc.status,
                            chosen=_posted_format(request))
    url = reverse("annotations:import_review", args=[job.pk])
    if is_script(request):  # the upload script follows X-Location itself
        response = HttpResponse(status=201)
        response["X-Location"] = url
        return response
    return redirect(url)


def _posted_format(request: HttpRequest) -> str:
    try:
        return request.POST.get("format", "")
    except Exception:  # the body could not be parsed at all
        return ""


# --- review, confirm, discard -------------------------------------------------------------------

def _review(request: HttpRequest, job: ImportJob, *, error: str = "",
            status: int | None = None) -> HttpResponse:
    context = {"job": job, "dataset": job.dataset, "report": job.report,
               "kinds": report_kinds(job.report), "error": error}
    if status is None:
        status = 422 if job.status == ImportJob.Status.ERRORED else 200
    template = "annotations/import_status.html" if request.htmx else \
        "annotations/import_review.html"
    response = render(request, template, context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def import_review(request: HttpRequest, job_id) -> HttpResponse:
    return _review(request, import_job_for(request.user, job_id))


def _to_jobs(job: ImportJob) -> HttpResponse:
    return redirect(reverse("datasets:detail", args=[job.dataset_id]) + "#current-jobs")


@require_POST
def import_confirm(request: HttpRequest, job_id) -> HttpResponse:
    job = import_job_for(request.user, job_id)
    if services.import_job_confirm(job=job) or job.phase == ImportJob.Phase.IMPORT:
        return _to_jobs(job)  # a second click on Confirm changes nothing
    return _review(request, job, error="This import is no longer waiting for confirmation.",
                   status=409)


@require_POST
def import_discard(request: HttpRequest, job_id) -> HttpResponse:
    job = import_job_for(request.user, job_id)
    services.import_job_discard(job=job)
    return _to_jobs(job)


@require_GET
def image_detail(request: HttpRequest, pk: int) -> HttpResponse:
    image, previous, following = image_with_drawables(request.user, pk)
    return render(request, "annotations/image.html", {"image": image, "dataset": image.dataset,
                                                      "previous": previous, "next": following})
