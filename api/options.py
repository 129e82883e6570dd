"""Reading the JSON body of "create an export" into a format id and ExportOptions.

The rules and messages are annotations.formats.options' (shared with the popup and the command);
this module only adds what JSON needs: strict types, unknown-key errors (a typo such as "split"
must not be silently ignored) and field paths as they appear in the body ("options.seed").
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest

from annotations.formats.options import ExportOptions, OptionError, option_json_types, parse_options
from exports.forms import parse_format

from .errors import InvalidJson, InvalidOption, UnusableOption

# What each JSON Schema type accepts, and how a refusal names it.
JSON_TYPES: dict[str, tuple[type | tuple[type, ...], str]] = {
    "boolean": (bool, "true or false"),
    "integer": (int, "a whole number or null"),
    "number": ((int, float), "a number"),
    "string": (str, "a string"),
    "array": (list, "a list of strings or null"),
    "object": (dict, "an object of strings"),
}


def json_object(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise InvalidJson("The request body is not valid JSON.")
    if not isinstance(data, dict):
        raise InvalidJson("The request body must be a JSON object.")
    return data


def export_request(data: dict[str, Any]) -> tuple[str, ExportOptions]:
    """The body's format id and options; absent or null options take their defaults."""
    _refuse_unknown(data, ("format", "options"), "")
    spec = _format(data.get("format"))
    options = data.get("options")
    options = {} if options is None else options
    if not isinstance(options, dict):
        raise InvalidOption("options must be a JSON object.", field="options")
    types = option_json_types()
    _refuse_unknown(options, tuple(types), "options.")
    for name, json_type in types.items():
        value = options.get(name)
        accepted, expected = JSON_TYPES[json_type]
        is_bool = isinstance(value, bool)
        if value is not None and (not isinstance(value, accepted) or
                                  (is_bool and json_type != "boolean")):
            raise InvalidOption(f"{name} must be {expected}, got {value!r}.",
                                field=f"options.{name}")
    try:
        return spec.id, parse_options(options, spec)
    except OptionError as exc:
        raise UnusableOption(exc.message, field=f"options.{exc.field}")


def _refuse_unknown(data: dict, known: tuple[str, ...], path: str) -> None:
    for key in data:
        if key not in known:
            raise InvalidOption(f"Unknown field {path}{key!r}; expected one of "
                                f"{', '.join(known)}.", field=f"{path}{key}")


def _format(value: object):
    if value in (None, ""):
        raise InvalidOption("Give an export format, e.g. \"coco\"; GET /api/v1/formats/ lists "
                            "them.", field="format")
    if not isinstance(value, str):
        raise InvalidOption(f"format must be a string, got {value!r}.", field="format")
    try:
        return parse_format(value)
    except ValidationError as exc:
        raise InvalidOption(exc.message_dict["format"][0], field="format")
