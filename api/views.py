"""The JSON API, v1. Views only translate HTTP: the work is in exports.services and selectors."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import Resolver404, resolve

from annotations.formats import registry
from datasets.selectors import dataset_for, datasets_for
from exports import links
from exports.models import ExportJob
from exports.services import export_job_cancel, is_expired

from . import openapi, selectors, serializers, services
from .errors import ExportExpired, ExportNotFinished, NotFound
from .http import api_view, json_response
from .options import export_request, json_object
from .pagination import paginate


@api_view("GET")
def dataset_list(request: HttpRequest) -> HttpResponse:
    datasets = datasets_for(request.user).order_by("-created", "-id")
    return json_response(paginate(request, datasets,
                                  lambda d: serializers.dataset_json(request, d)))


@api_view("GET")
def dataset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = datasets_for(request.user).filter(pk=pk).first()
    if dataset is None:
        raise NotFound("No such dataset, or it is not yours.")
    return json_response(serializers.dataset_detail_json(request, dataset))


@api_view("GET", "POST")
def dataset_exports(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = dataset_for(request.user, pk)
    if request.method == "GET":
        jobs = selectors.dataset_jobs_for(request.user, dataset)
        return json_response(paginate(request, jobs, lambda j: serializers.job_json(request, j)))
    format_id, options = export_request(json_object(request))
    job, created = services.api_export_create(owner=request.user, dataset=dataset,
                                              format_id=format_id, options=options)
    body = serializers.job_json(request, job)
    return json_response(body, status=202 if created else 200, headers={"Location": body["url"]})


@api_view("GET")
def export_detail(request: HttpRequest, job_id: str) -> HttpResponse:
    return json_response(serializers.job_json(request, selectors.job_for(request.user, job_id)))


@api_view("POST")
def export_cancel(request: HttpRequest, job_id: str) -> HttpResponse:
    """Idempotent: cancelling an export that already ended answers with it, unchanged."""
    job = selectors.job_for(request.user, job_id)
    export_job_cancel(job=job)
    job.refresh_from_db()
    return json_response(serializers.job_json(request, job))


@api_view("GET")
def export_download(request: HttpRequest, job_id: str) -> HttpResponse:
    """Redirect to the signed link: the one place that serves export files stays exports.views."""
    job = selectors.job_for(request.user, job_id)
    if job.status != ExportJob.Status.FINISHED:
        raise ExportNotFinished(f"This export is {job.get_status_display()}; only a Finished "
                                f"export can be downloaded.")
    if is_expired(job):
        raise ExportExpired(f"This export expired at {serializers.iso(job.expires_at)}; create "
                            f"it again.")
    if not serializers.downloadable(job):
        raise ExportExpired("This export's file is no longer on the server; create it again.")
    response = HttpResponseRedirect(request.build_absolute_uri(links.signed_path(job)))
    response["Cache-Control"] = "no-store"
    return response


@api_view("GET")
def format_list(request: HttpRequest) -> HttpResponse:
    return json_response({"results": [serializers.format_json(spec)
                                      for spec in registry.available_formats()]})


@api_view("GET", public=True)
def openapi_document(request: HttpRequest) -> HttpResponse:
    return json_response(openapi.document())


@api_view("GET", "POST", "PUT", "PATCH", "DELETE", public=True)
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    hint = "see openapi.json"
    if not request.path.endswith("/"):  # this catch-all stops APPEND_SLASH from redirecting
        try:
            if resolve(request.path + "/").func is not not_found:
                hint = f"did you mean {request.path}/?"
        except Resolver404:
            pass
    raise NotFound(f"There is no API endpoint at {request.path}; {hint}")
