from __future__ import annotations

import hashlib
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget, trigger_client_event

from annotations.formats import registry
from annotations.formats.options import OptionError, default_normalized
from annotations.selectors import dataset_import_jobs
from datasets.models import Dataset
from datasets.selectors import dataset_for

from . import job_rows, links, preview, ranges, selectors, services, snippet, storage
from .forms import RENAME_PREFIX, ExportForm
from .models import ExportJob

JOBS_SHOWN = 20  # rows at first; "Show older" adds as many again
JOBS_SHOWN_MAX = 1000


def jobs_context(request: HttpRequest, dataset: Dataset) -> dict:
    """Current Jobs: the dataset's exports and annotation imports, newest first."""
    shown = _shown(request)
    now = timezone.now()
    jobs = list(selectors.dataset_jobs(dataset)[:shown + 1])
    for job in jobs:
        job.kind = "export"
        job.spec = _spec_or_none(job.format)
        job.expired = services.is_expired(job) or bool(job.file_deleted_at)
        job.options_line = job_rows.options_line(job.options)
        job.sets_line = job_rows.sets_line(job.counts or {})
        job.took = job_rows.took(job)
        job.time_left = job_rows.time_left(job, now) if job.is_active else ""
        job.seconds_left = None
        if job.status == ExportJob.Status.FINISHED and not job.expired:
            job.link = request.build_absolute_uri(links.signed_path(job))
            job.snippet = "\n".join([
                snippet.curl_command(job.link),
                snippet.client_command(job, request.build_absolute_uri("/").rstrip("/"))])
            # the page refreshes the list when the link expires (one timer, nexus.js)
            if job.expires_at is not None:
                job.seconds_left = max(0, int((job.expires_at - now).total_seconds()) + 1)
    imports = list(dataset_import_jobs(dataset)[:shown + 1])
    for job in imports:
        job.kind = "import"
    jobs = sorted(jobs + imports, key=lambda j: j.created_at, reverse=True)
    return {"dataset": dataset, "jobs": jobs[:shown], "shown": shown,
            "older": len(jobs) > shown, "more": min(shown + JOBS_SHOWN, JOBS_SHOWN_MAX),
            "any_active": any(j.is_active for j in jobs[:shown]),
            "any_ended": any(j.kind == "export" and not j.is_active for j in jobs[:shown])}


def _shown(request: HttpRequest) -> int:
    """How many rows the list shows (kept by its polls and buttons)."""
    try:
        shown = int(request.POST.get("show") or request.GET.get("show") or JOBS_SHOWN)
    except ValueError:
        shown = JOBS_SHOWN
    return max(JOBS_SHOWN, min(shown, JOBS_SHOWN_MAX))


def _normalized_default(spec) -> str:
    """"none" for a format without coordinates, else "on"/"off": the checkbox's default."""
    if spec.normalized is None:
        return "none"
    return "on" if default_normalized(spec) else "off"


def _spec_or_none(format_id: str):
    try:
        return registry.get_spec(format_id)
    except Exception:
        return None


@require_GET
def jobs_partial(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = dataset_for(request.user, pk)
    response = render(request, "exports/jobs.html", jobs_context(request, dataset))
    response["Cache-Control"] = "no-store"
    return response


def _popup(request: HttpRequest, dataset: Dataset, form: ExportForm, status: int = 200):
    groups = selectors.format_choices(dataset)
    for group in groups:  # what the popup sets when a format is picked (no rule in JavaScript)
        group["choices"] = [{"spec": spec, "normalized": _normalized_default(spec),
                             "images_always_included": spec.images_always_included,
                             "reads": selectors.who_reads(spec)}
                            for spec in group["formats"]]
    spec = _chosen_spec(form.data.get("format"), groups)
    context = {"dataset": dataset, "form": form, "groups": groups,
               "image_count": dataset.images.count(),
               "split_modes": selectors.split_modes(dataset),
               "unavailable": [g for g in groups if g["disabled_reason"]]}
    if spec is not None:
        context.update(_labels_context(dataset, spec, form))
        context.update(_preview_context(dataset, spec, form))
    return render(request, "exports/popup.html", context, status=status)


def _chosen_spec(format_id: str | None, groups: list[dict]):
    """The format asked for, else the first one this dataset can export (the popup's pick)."""
    spec = _spec_or_none(format_id) if format_id else None
    if spec is not None:
        return spec
    return next((s for g in groups if not g["disabled_reason"] for s in g["formats"]), None)


def _labels_context(dataset: Dataset, spec, form: ExportForm) -> dict:
    choices = preview.label_choices(dataset, spec)
    if form.is_bound and form.data.get("labels_listed"):
        checked = set(form.data.getlist("labels"))
        for choice in choices:
            choice["selected"] = choice["name"] in checked
            choice["rename"] = form.data.get(f"{RENAME_PREFIX}{choice['name']}", "")
    return {"label_choices": choices, "label_spec": spec}


def _preview_context(dataset: Dataset, spec, form: ExportForm) -> dict:
    """The preview of the form's options; options that do not parse show their error instead."""
    data = form.data if form.is_bound else {"format": spec.id, "include_images": "on"}
    check = ExportForm(data)
    if not check.is_valid():
        return {"preview": None, "preview_error": " ".join(
            m for messages in check.errors.values() for m in messages)}
    chosen = registry.get_spec(check.cleaned_data["format"])
    try:
        shown = preview.export_preview(dataset, chosen, check.cleaned_data["options"])
    except OptionError as exc:
        return {"preview": None, "preview_error": exc.message}
    return {"preview": shown, "preview_error": "", "preview_spec": chosen}


@require_http_methods(["GET", "POST"])
def export_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The popup's "what will be written" part for the options as they stand (HTMX)."""
    dataset = dataset_for(request.user, pk)
    form = ExportForm(request.POST if request.method == "POST" else request.GET)
    spec = _spec_or_none(form.data.get("format", ""))
    if spec is None:
        return HttpResponse("", status=204)
    return render(request, "exports/preview.html", _preview_context(dataset, spec, form))


@require_GET
def export_labels(request: HttpRequest, pk: int) -> HttpResponse:
    """The popup's label list for a format's family (HTMX, when the format changes)."""
    dataset = dataset_for(request.user, pk)
    spec = _spec_or_none(request.GET.get("format", ""))
    if spec is None:
        raise Http404("Unknown export format.")
    return render(request, "exports/labels.html",
                  _labels_context(dataset, spec, ExportForm(initial={})))


@require_http_methods(["GET", "POST"])
def export_create(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = dataset_for(request.user, pk)
    if request.method == "GET":
        return _popup(request, dataset, ExportForm(initial={"include_images": True}))
    form = ExportForm(request.POST)
    if form.is_valid():
        try:
            job, created = services.export_job_create(owner=request.user, dataset=dataset,
                                                      format_id=form.cleaned_data["format"],
                                                      options=form.cleaned_data["options"])
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)
    if not form.is_valid():
        response = _popup(request, dataset, form, status=422)
        return reswap(retarget(response, "#modal"), "innerHTML") if request.htmx else response
    response = render(request, "exports/jobs.html", jobs_context(request, dataset))
    if request.htmx:  # the page scrolls to the new row and keeps a confirmation in view
        return trigger_client_event(retarget(reswap(response, "outerHTML"), "#current-jobs"),
                                    "export-created", _created_event(dataset, job, created),
                                    after="settle")
    response.status_code = 201
    return response


def _created_event(dataset: Dataset, job: ExportJob, created: bool) -> dict:
    spec = registry.get_spec(job.format)
    what = "Export queued" if created else f"Same export already {job.get_status_display()}"
    sets = preview.sets_line(dataset, spec, job.export_options)
    return {"job": f"job-{job.pk}", "message": f"{what} — {spec.name}, {sets}"}


@require_POST
def export_again(request: HttpRequest, job_id) -> HttpResponse:
    job = _own_job(request, job_id)
    services.export_job_create(owner=request.user, dataset=job.dataset, format_id=job.format,
                               options=job.export_options)
    return render(request, "exports/jobs.html", jobs_context(request, job.dataset))


@require_POST
def export_remove(request: HttpRequest, job_id) -> HttpResponse:
    job = _own_job(request, job_id)
    services.export_job_remove(job=job)
    return render(request, "exports/jobs.html", jobs_context(request, job.dataset))


@require_POST
def jobs_clear(request: HttpRequest, pk: int) -> HttpResponse:
    """"Clear finished": every ended export of the user on this dataset, files too."""
    dataset = dataset_for(request.user, pk)
    services.export_jobs_clear(owner=request.user, dataset=dataset)
    return render(request, "exports/jobs.html", jobs_context(request, dataset))


@require_POST
def export_cancel(request: HttpRequest, job_id) -> HttpResponse:
    job = _own_job(request, job_id)
    services.export_job_cancel(job=job)
    return render(request, "exports/jobs.html", jobs_context(request, job.dataset))


def _own_job(request: HttpRequest, job_id) -> ExportJob:
    return get_object_or_404(ExportJob.objects.select_related("dataset"), pk=job_id,
                             owner=request.user, dataset__owner=request.user)


@require_GET
def export_download(request: HttpRequest, job_id) -> HttpResponse:
    return _serve(request, _own_job(request, job_id))


@login_not_required
@require_GET
def signed_download(request: HttpRequest, token: str) -> HttpResponse:
    try:
        payload = links.read_token(token)
    except signing.BadSignature:
        payload = None
    job = payload and ExportJob.objects.select_related("dataset").filter(
        pk=payload["job"], owner_id=payload["owner"], dataset__owner_id=payload["owner"],
        owner__is_active=True).first()
    if not job:
        return _link_problem(request, 404, "link_invalid", "This download link is not valid",
                             "The link is incomplete, was changed, or its export was removed. "
                             "Copy the link again from the dataset's Current Jobs.")
    return _serve(request, job)


def _serve(request: HttpRequest, job: ExportJob) -> HttpResponse:
    if services.is_expired(job) or (job.status == ExportJob.Status.FINISHED
                                    and not services.has_file(job)):
        when = job.expires_at.strftime("%Y-%m-%d %H:%M UTC") if job.expires_at else "earlier"
        return _link_problem(request, 410, "export_expired", "This export has expired",
                             f"This export expired on {when} and its file was deleted; "
                             f"export again.", job.dataset)
    if not services.has_file(job):
        return _link_problem(request, 404, "no_file", "This export has no file",
                             f"This export is {job.get_status_display()}; only a finished "
                             f"export can be downloaded.", job.dataset)
    seconds = min(settings.NEXUS_PRESIGNED_SECONDS,
                  int((job.expires_at - timezone.now()).total_seconds()))
    url = storage.presigned_url(job.file_path, seconds, _ascii_name(job.file_name))
    if url is not None:
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "private, no-store"
        return response
    handle = storage.open_file(job.file_path)
    size = handle.size
    etag = '"%s"' % hashlib.sha256(f"{job.file_path}:{size}".encode()).hexdigest()[:32]
    span = ranges.requested_range(request, size, etag)
    if span is None:
        response = FileResponse(handle, content_type="application/zip")
        response.block_size = ranges.BLOCK  # servers without sendfile read it 4 KB at a time
    else:
        response = ranges.partial_response(handle, size, span, "application/zip")
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    response["Content-Disposition"] = (f"attachment; filename=\"{_ascii_name(job.file_name)}\"; "
                                       f"filename*=UTF-8''{quote(job.file_name)}")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _link_problem(request: HttpRequest, status: int, code: str, title: str, message: str,
                  dataset: Dataset | None = None) -> HttpResponse:
    """Why a download did not start: a page for a browser (with the way back), else the API's
    JSON error. A browser that gets a non-zip for a download shows only a failed download."""
    if "text/html" in request.headers.get("Accept", ""):
        response = render(request, "exports/link_problem.html",
                          {"title": title, "message": message, "dataset": dataset},
                          status=status)
    else:
        response = JsonResponse({"code": code, "message": message}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _ascii_name(name: str) -> str:
    return "".join(ch if ch.isascii() and ch.isprintable() and ch not in '"\\' else "_"
                   for ch in name)
