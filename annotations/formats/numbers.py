"""Number formatting shared by every writer (FORMATS.md §1).

Normalized values: 6 decimals; absolute values: 2 decimals; both in their shortest form and never
in exponent notation (`5e-05` breaks several readers).

These run a few hundred thousand times per export, so the two fixed precisions have their own
functions: a constant `%`-format (no format spec built per call) and no stripping at all when the
last digit is not 0 (most coordinates). For ints and floats, the only types writers pass, they
give exactly the strings of `shortest` (tests/formats/test_numbers.py checks millions of values).
"""

from __future__ import annotations

from collections.abc import Callable


def shortest(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_normalized(value: float) -> str:
    text = "%.6f" % value
    if text[-1] != "0":  # nothing to strip (and not -0.000000, which ends in 0)
        return text
    text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_absolute(value: float) -> str:
    text = "%.2f" % value
    if text[-1] != "0":
        return text
    text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def formatter(normalized: bool) -> Callable[[float], str]:
    return format_normalized if normalized else format_absolute
