"""The OpenAPI 3.1 description of API v1, written by hand and served at /api/v1/openapi.json.

Schemas are strict (every key required, no others allowed) so that tests/api, which validates
every real response against them, catches any drift between this document and the views.
Enumerations that the code owns (statuses, error codes, format ids) are read from the code.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from annotations.formats import registry
from annotations.formats.options import option_schemas
from annotations.formats.spec import FAMILIES
from exports.models import ExportJob

from .errors import ERRORS
from .pagination import MAX_PAGE_SIZE, PAGE_SIZE
from .selectors import KINDS

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def strict(properties: dict[str, Schema], description: str = "") -> Schema:
    schema: Schema = {"type": "object", "properties": properties,
                      "required": list(properties), "additionalProperties": False}
    if description:
        schema["description"] = description
    return schema


INTEGER = {"type": "integer", "minimum": 0}
STRING = {"type": "string"}
DATE_TIME = {"type": "string", "format": "date-time", "pattern": "Z$",
             "description": "ISO 8601, UTC (ends with Z)."}
URL = {"type": "string", "format": "uri"}
KIND_COUNTS = strict({kind: INTEGER for kind in KINDS})


def _schemas() -> dict[str, Schema]:
    options = option_schemas()
    page = {"count": INTEGER, "page": {"type": "integer", "minimum": 1},
            "page_size": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
            "next": nullable(URL), "previous": nullable(URL)}
    set_counts = strict({"images": INTEGER, "annotations": INTEGER})
    dataset = {
        "id": {"type": "integer"}, "name": STRING, "created": DATE_TIME,
        "image_count": INTEGER, "annotation_count": INTEGER, "url": URL,
    }
    return {
        "Error": {"type": "object", "required": ["code", "message"],
                  "additionalProperties": False, "properties": {
                      "code": {"type": "string", "enum": [error.code for error in ERRORS],
                               "description": "Stable: branch on it, not on the message."},
                      "message": {"type": "string", "description": "For people."},
                      "field": {"type": "string", "description": "For invalid_option: where "
                                "in the request, e.g. \"options.seed\" or \"page\"."}}},
        "Dataset": strict(dataset),
        "DatasetDetail": strict({
            **dataset,
            "annotation_counts": KIND_COUNTS | {"description": "Annotations per kind."},
            "family_counts": strict({family: INTEGER for family in FAMILIES},
                                    "Annotations each format family would export; a format "
                                    "whose family is at 0 is refused."),
            "labels": {"type": "array", "items": strict({
                "id": {"type": "integer"}, "name": STRING,
                "color": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
                "annotation_counts": KIND_COUNTS,
            })},
            "exports_url": URL,
        }),
        "DatasetPage": strict({**page, "results": {"type": "array", "items": ref("Dataset")}}),
        "Format": strict({
            "id": {"type": "string", "enum": registry.format_ids()},
            "name": STRING,
            "family": {"type": "string", "enum": list(FAMILIES)},
            "family_name": STRING,
            "normalized": {"type": ["boolean", "null"], "description": "The format's "
                           "conventional coordinates; null where it has none."},
            "images_always_included": {"type": "boolean"},
            "description": STRING,
        }),
        "FormatList": strict({"results": {"type": "array", "items": ref("Format")}}),
        "ExportOptions": {"type": "object", "properties": options,
                          "additionalProperties": False},
        "ExportCreate": {"type": "object", "required": ["format"], "additionalProperties": False,
                         "properties": {"format": {"type": "string",
                                                   "enum": registry.format_ids()},
                                        "options": ref("ExportOptions")}},
        "ExportJob": strict({
            "id": {"type": "string", "format": "uuid"},
            "url": URL,
            "dataset": {"type": "integer"},
            "format": STRING,
            "options": strict(options, "The options the export runs with (defaults filled "
                              "in, the picked seed recorded)."),
            "status": {"type": "string",
                       "enum": [label for _, label in ExportJob.Status.choices]},
            "progress": strict({"done": INTEGER, "total": INTEGER,
                                "percent": {"type": "integer", "minimum": 0, "maximum": 100}}),
            "counts": {"type": "object", "additionalProperties": set_counts,
                       "description": "Per set (train, test) once Finished."},
            "error": nullable(STRING),
            "created_at": DATE_TIME,
            "started_at": nullable(DATE_TIME),
            "finished_at": nullable(DATE_TIME),
            "expires_at": nullable(DATE_TIME),
            "expired": {"type": "boolean"},
            "file": nullable(strict({
                "name": STRING, "size": INTEGER,
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            }, "The zip, once Finished: check the download against size and sha256.")),
            "download": nullable(strict({
                "method": {"const": "GET"},
                "url": URL | {"description": "Signed: needs no token."},
                "expiry_date": DATE_TIME,
            }, "Present while a Finished export can be downloaded.")),
        }),
        "ExportJobPage": strict({**page, "results": {"type": "array",
                                                     "items": ref("ExportJob")}}),
    }


def _error(description: str, *codes: str, headers: dict | None = None) -> Schema:
    schema = {"allOf": [ref("Error"), {"properties": {"code": {"enum": list(codes)}}}]}
    response: Schema = {"description": description,
                        "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _ok(description: str, schema: str, headers: dict | None = None) -> Schema:
    response: Schema = {"description": description,
                        "content": {"application/json": {"schema": ref(schema)}}}
    if headers:
        response["headers"] = headers
    return response


UNAUTHORIZED = {"$ref": "#/components/responses/Unauthorized"}
NOT_FOUND = {"$ref": "#/components/responses/NotFound"}
INVALID = {"$ref": "#/components/responses/InvalidOption"}
LOCATION = {"Location": {"description": "The job's URL.", "schema": URL}}
PAGE_PARAMETERS = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {"name": "page_size", "in": "query",
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                "default": PAGE_SIZE}},
]


def _id(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _paths() -> dict[str, Schema]:
    dataset_id = [_id("dataset_id", {"type": "integer"})]
    job_id = [_id("job_id", {"type": "string", "format": "uuid"})]
    limit = settings.NEXUS_MAX_RUNNING_EXPORTS_PER_USER
    return {
        "/datasets/": {"get": {
            "operationId": "listDatasets", "summary": "Your datasets, newest first",
            "parameters": PAGE_PARAMETERS,
            "responses": {"200": _ok("A page of datasets.", "DatasetPage"), "400": INVALID,
                          "401": UNAUTHORIZED}}},
        "/datasets/{dataset_id}/": {"get": {
            "operationId": "getDataset", "summary": "A dataset with counts per kind and labels",
            "parameters": dataset_id,
            "responses": {"200": _ok("The dataset.", "DatasetDetail"), "401": UNAUTHORIZED,
                          "404": NOT_FOUND}}},
        "/datasets/{dataset_id}/exports/": {
            "get": {
                "operationId": "listExports", "summary": "The dataset's exports, newest first",
                "parameters": dataset_id + PAGE_PARAMETERS,
                "responses": {"200": _ok("A page of export jobs.", "ExportJobPage"),
                              "400": INVALID, "401": UNAUTHORIZED, "404": NOT_FOUND}},
            "post": {
                "operationId": "createExport", "summary": "Start an export",
                "description": (
                    "An identical export that is still Queued or Running is returned (200) "
                    "instead of a new one; there is never a 409 for duplicates. Each user may "
                    f"have at most {limit} exports Queued or Running (queued ones count, so a "
                    "script cannot pile up work): past it, a new export gets a 429."),
                "parameters": dataset_id,
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": ref("ExportCreate")}}},
                "responses": {
                    "202": _ok("Created and queued; poll its url.", "ExportJob", LOCATION),
                    "200": _ok("The identical active export.", "ExportJob", LOCATION),
                    "400": _error("Invalid JSON, an option of the wrong type or an unknown "
                                  "field; `field` names it.", "invalid_json", "invalid_option"),
                    "422": _error("An option value that cannot be used (out of range, shares "
                                  "over 1, an unknown label); `field` names it.",
                                  "invalid_option"),
                    "401": UNAUTHORIZED, "404": NOT_FOUND,
                    "429": _error("Too many exports queued or running.", "too_many_exports",
                                  headers={"Retry-After": {"schema": {"type": "integer"}}}),
                }}},
        "/exports/{job_id}/": {"get": {
            "operationId": "getExport", "summary": "An export's status, progress and download",
            "parameters": job_id,
            "responses": {"200": _ok("The export job.", "ExportJob"), "401": UNAUTHORIZED,
                          "404": NOT_FOUND}}},
        "/exports/{job_id}/cancel/": {"post": {
            "operationId": "cancelExport", "summary": "Cancel a Queued or Running export",
            "description": "Idempotent: an export that already ended is returned unchanged.",
            "parameters": job_id,
            "responses": {"200": _ok("The export job after the request.", "ExportJob"),
                          "401": UNAUTHORIZED, "404": NOT_FOUND}}},
        "/exports/{job_id}/download/": {"get": {
            "operationId": "downloadExport", "summary": "Redirect to the signed download URL",
            "parameters": job_id,
            "responses": {
                "302": {"description": "To the signed URL of `download.url`.",
                        "headers": {"Location": {"schema": URL}}},
                "401": UNAUTHORIZED, "404": NOT_FOUND,
                "409": _error("The export has not finished (or was cancelled or errored).",
                              "export_not_finished"),
                "410": _error("The export expired; create it again.", "export_expired"),
            }}},
        "/formats/": {"get": {
            "operationId": "listFormats",
            "summary": "Every format: family, conventional normalization, description",
            "responses": {"200": _ok("All formats.", "FormatList"), "401": UNAUTHORIZED}}},
        "/openapi.json": {"get": {
            "operationId": "getOpenApi", "summary": "This document", "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1",
                                  "content": {"application/json": {"schema": {
                                      "type": "object"}}}}}}},
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Nexus API", "version": "1",
            "description": (
                "Export computer-vision annotations from code: create an export, poll it, then "
                "download the zip from its signed URL before `expiry_date` and check its "
                "sha256. Authenticate with `Authorization: Bearer <token>`; create tokens on "
                "the account page (/api/v1/account/). Errors are JSON with a stable `code` and "
                "a `message`; objects of other users answer 404."),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "A personal token, nxs_…"}},
            "schemas": _schemas(),
            "responses": {
                "Unauthorized": _error("No token, or a revoked or unknown one.",
                                       "authentication_required", "invalid_token",
                                       headers={"WWW-Authenticate": {"schema": STRING}}),
                "NotFound": _error("No such object, or it belongs to someone else.",
                                   "not_found"),
                "InvalidOption": _error("An invalid query parameter; `field` names it.",
                                        "invalid_option"),
            },
        },
    }
