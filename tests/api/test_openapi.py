"""openapi.json describes exactly what the API does: every documented response is produced by
one scenario below and validated (as every response of tests/api is) against its schema."""

from __future__ import annotations

import re
from datetime import timedelta

from django.urls import get_resolver
from django.utils import timezone
from openapi_spec_validator import validate as validate_openapi

from api import openapi
from exports import tasks
from exports.models import ExportJob

from . import openapi_check
from .conftest import ApiClient, exports_url, job_url


def test_the_document_is_served_without_a_token_and_is_valid_openapi_3_1(client, db):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc == openapi.document()
    assert doc["openapi"] == "3.1.0"
    validate_openapi(doc)


def _template(route: str) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", "{}", route)


def test_the_document_has_every_api_route_and_no_other():
    api = next(p for p in get_resolver().url_patterns if str(p.pattern) == "api/v1/")
    routes = {_template(str(p.pattern)) for p in api.url_patterns
              if p.name and not p.name.startswith(("account", "token"))}
    documented = {re.sub(r"\{\w+\}", "{}", path) for path in openapi.document()["paths"]}
    assert routes == documented


def test_the_error_codes_in_the_document_are_the_codes_of_api_errors():
    from api.errors import ERRORS

    enum = openapi.document()["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
    assert enum == [e.code for e in ERRORS] and len(set(enum)) == len(enum)


def test_every_documented_response_is_produced_and_matches_its_schema(
        client, demo, secret, stranger_secret, settings):
    settings.NEXUS_MAX_RUNNING_EXPORTS_PER_USER = 1
    openapi_check.SEEN.clear()
    api, stranger = ApiClient(client, secret), ApiClient(client, stranger_secret)
    anonymous = ApiClient(client, None)
    dataset, missing = f"/api/v1/datasets/{demo.pk}/", "/api/v1/datasets/999999/"

    for path in ("/api/v1/datasets/", dataset, exports_url(demo), "/api/v1/formats/"):
        assert api.get(path).status_code == 200
        assert anonymous.get(path).status_code == 401
    for path in ("/api/v1/datasets/?page=0", f"{exports_url(demo)}?page_size=0"):
        assert api.get(path).status_code == 400
    assert api.get(missing).status_code == 404
    assert api.get(f"{missing}exports/").status_code == 404
    assert api.get("/api/v1/openapi.json").status_code == 200

    assert api.post(exports_url(demo), {"format": "nope"}).status_code == 400
    assert api.post(exports_url(demo), {"format": "coco", "options": {
        "split_ratio": 0.6, "valid_ratio": 0.6}}).status_code == 422
    assert anonymous.post(exports_url(demo), {"format": "coco"}).status_code == 401
    assert stranger.post(exports_url(demo), {"format": "coco"}).status_code == 404
    queued = api.post(exports_url(demo), {"format": "coco"})
    assert queued.status_code == 202
    assert api.post(exports_url(demo), {"format": "coco"}).status_code == 200
    assert api.post(exports_url(demo), {"format": "createml"}).status_code == 429
    job = queued.json()["id"]

    assert api.get(job_url(job)).status_code == 200
    assert api.get(f"{job_url(job)}download/").status_code == 409
    tasks.run_export(job)
    assert api.get(f"{job_url(job)}download/").status_code == 302
    for path in (job_url(job), f"{job_url(job)}download/"):
        assert anonymous.get(path).status_code == 401
        assert stranger.get(path).status_code == 404
    assert api.post(f"{job_url(job)}cancel/").status_code == 200
    assert anonymous.post(f"{job_url(job)}cancel/").status_code == 401
    assert stranger.post(f"{job_url(job)}cancel/").status_code == 404
    ExportJob.objects.filter(pk=job).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api.get(f"{job_url(job)}download/").status_code == 410

    missing_from_tests = openapi_check.documented() - openapi_check.SEEN
    assert not missing_from_tests, sorted(missing_from_tests)
