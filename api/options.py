"""Reading the JSON body of "create an export" into an ExportChoice.

The rules and messages are exports.options' (shared with the popup and the command); this module
only adds what JSON needs: strict types, unknown-key errors (a typo such as "split" must not be
silently ignored) and field paths as they appear in the body ("options.seed").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest

from annotations.formats import registry
from exports.options import ExportChoice, parse_format, parse_seed, parse_split

from .errors import InvalidJson, InvalidOption

OPTION_NAMES = ("normalized", "shuffle", "seed", "split_ratio", "include_images")


def json_object(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise InvalidJson("The request body is not valid JSON.")
    if not isinstance(data, dict):
        raise InvalidJson("The request body must be a JSON object.")
    return data


def export_choice(data: dict[str, Any]) -> ExportChoice:
    _refuse_unknown(data, ("format", "options"), "")
    format_id = _format(data.get("format"))
    options = data.get("options")
    options = {} if options is None else options
    if not isinstance(options, dict):
        raise InvalidOption("options must be a JSON object.", field="options")
    _refuse_unknown(options, OPTION_NAMES, "options.")
    convention = bool(registry.get_spec(format_id).normalized)  # None (no coordinates) -> False
    return ExportChoice(
        format_id=format_id,
        normalized=_boolean(options, "normalized", convention),
        shuffle=_boolean(options, "shuffle", False),
        seed=_parsed(options, "seed", parse_seed, _is_integer, "a whole number or null"),
        split_ratio=_parsed(options, "split_ratio", parse_split, _is_number, "a number", 0.0),
        include_images=_boolean(options, "include_images", True),
    )


def _refuse_unknown(data: dict, known: tuple[str, ...], path: str) -> None:
    for key in data:
        if key not in known:
            raise InvalidOption(f"Unknown field {path}{key!r}; expected one of "
                                f"{', '.join(known)}.", field=f"{path}{key}")


def _format(value: object) -> str:
    if value in (None, ""):
        raise InvalidOption("Give an export format, e.g. \"coco\"; GET /api/v1/formats/ lists "
                            "them.", field="format")
    if not isinstance(value, str):
        raise InvalidOption(f"format must be a string, got {value!r}.", field="format")
    return _call(parse_format, value, "format")


def _boolean(options: dict, name: str, default: bool) -> bool:
    value = options.get(name)
    if value is None:  # absent or null: the default
        return default
    if not isinstance(value, bool):
        raise InvalidOption(f"{name} must be true or false, got {value!r}.",
                            field=f"options.{name}")
    return value


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _parsed(options: dict, name: str, parse: Callable[[object], Any],
            accepts: Callable[[object], bool], expected: str, default: Any = None) -> Any:
    value = options.get(name)
    if value is None:
        return default
    if not accepts(value):
        raise InvalidOption(f"{name} must be {expected}, got {value!r}.", field=f"options.{name}")
    return _call(parse, value, f"options.{name}")


def _call(parse: Callable[[object], Any], value: object, field: str) -> Any:
    try:
        return parse(value)
    except ValidationError as exc:
        raise InvalidOption(_first_message(exc), field=field)


def _first_message(exc: ValidationError) -> str:
    return next(m for messages in exc.message_dict.values() for m in messages)
