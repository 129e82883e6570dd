"""Check a real API response against the OpenAPI document: documented status, JSON body valid
against the documented schema (jsonschema, draft 2020-12, the dialect of OpenAPI 3.1), documented
headers present."""

from __future__ import annotations

import re
from functools import cache

from jsonschema import Draft202012Validator

from api import openapi

PREFIX = "/api/v1"
SEEN: set[tuple[str, str, str]] = set()  # (path template, method, status) answered so far


@cache
def document() -> dict:
    return openapi.document()


def operation(method: str, path: str) -> tuple[str, dict]:
    relative = path.split("?", 1)[0].removeprefix(PREFIX)
    for template, item in document()["paths"].items():
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), relative):
            assert method.lower() in item, f"{method} {template} is not documented"
            return template, item[method.lower()]
    raise AssertionError(f"{path} is not documented")


def _resolve(node: dict) -> dict:
    while "$ref" in node and len(node) == 1:
        target: dict = document()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def validate(schema: dict, instance: object) -> None:
    # The components ride along so that "#/components/schemas/..." resolves in the root schema.
    root = {**schema, "components": document()["components"]}
    validator = Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def check_response(method: str, path: str, response) -> None:
    template, op = operation(method, path)
    status = str(response.status_code)
    SEEN.add((template, method.lower(), status))
    assert status in op["responses"], f"{method} {template} answered {status}, undocumented"
    spec = _resolve(op["responses"][status])
    for header in spec.get("headers", {}):
        assert response.has_header(header), f"{method} {template} {status} lacks {header}"
    if "content" in spec:
        assert response["Content-Type"] == "application/json", response["Content-Type"]
        validate(spec["content"]["application/json"]["schema"], response.json())
    else:
        assert not response.content or response.status_code in (301, 302), response.content


def documented() -> set[tuple[str, str, str]]:
    return {(template, method, status) for template, item in document()["paths"].items()
            for method, op in item.items() for status in op["responses"]}
