"""JSON out with our own number form, and JSON in from untrusted uploads.

The standard encoders write `5e-05` and `NaN`; writers use `dumps` with a number formatter from
`numbers.py` instead. `loads_untrusted` refuses NaN/Infinity and absurd nesting with a message
that names the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from annotations.formats.errors import FormatError

_encode_str = json.JSONEncoder(ensure_ascii=False).encode


def dumps(obj: Any, number: Callable[[float], str], indent: int | None = None) -> str:
    parts: list[str] = []
    _emit(obj, number, indent, 0, parts)
    return "".join(parts)


def _emit(obj: Any, number: Callable[[float], str], indent: int | None, level: int,
          out: list[str]) -> None:
    if obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, int):
        out.append(str(obj))
    elif isinstance(obj, float):
        if obj != obj or obj in (float("inf"), float("-inf")):
            raise ValueError("refusing to write NaN or Infinity")
        out.append(number(obj))
    elif isinstance(obj, str):
        out.append(_encode_str(obj))
    elif isinstance(obj, dict):
        _emit_items(list(obj.items()), "{", "}", number, indent, level, out)
    elif isinstance(obj, (list, tuple)):
        _emit_items(list(obj), "[", "]", number, indent, level, out)
    else:
        raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def _emit_items(items: list, open_: str, close: str, number: Callable[[float], str],
                indent: int | None, level: int, out: list[str]) -> None:
    if not items:
        out.append(open_ + close)
        return
    is_dict = open_ == "{"
    inner = "" if indent is None else "\n" + " " * (indent * (level + 1))
    outer = "" if indent is None else "\n" + " " * (indent * level)
    sep = ", " if indent is None else ","
    out.append(open_)
    for i, item in enumerate(items):
        out.append(inner if i == 0 else sep + inner)
        if is_dict:
            key, value = item
            out.append(_encode_str(str(key)) + ": ")
            _emit(value, number, indent, level + 1, out)
        else:
            _emit(item, number, indent, level + 1, out)
    out.append(outer + close)


_CONSTANT = re.compile(r"[\[:,]\s*(-?Infinity|NaN)\b")


def _line_of_constant(text: str) -> int | None:
    """The line of the first NaN/Infinity used as a value (json does not say where it was)."""
    match = _CONSTANT.search(text)
    return text.count("\n", 0, match.start(1)) + 1 if match else None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def loads_untrusted(data: bytes | str, file: str) -> Any:
    """Parse JSON from an upload: no NaN/Infinity, bounded nesting, errors that name the file."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise FormatError(file, "JSON nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise FormatError(file, f"not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise FormatError(file, f"invalid JSON: {exc.msg} (column {exc.colno})",
                          line=exc.lineno) from None
    except ValueError as exc:
        raise FormatError(file, str(exc), line=_line_of_constant(text)) from None
