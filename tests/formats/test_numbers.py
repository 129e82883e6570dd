"""The fast number formatters give exactly the strings of the reference formulas (FORMATS.md §1).

`reference_shortest` is the original implementation, kept here as the oracle: the writers' fast
functions must agree with it on every value, byte for byte.
"""

from __future__ import annotations

import math
import random
import struct

import pytest

from annotations.formats import numbers


def reference_shortest(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


EDGE_CASES = [
    0.0, -0.0, 1.0, -1.0, 0.5, 0.1 + 0.2, 1 - 1e-17, 0.0000005, -0.0000005, 0.0000004999999,
    0.0000015, 1e-7, -1e-7, 5e-05, 0.005, 0.015, 0.025, 0.125, 0.375, 2.675, 1.005, 0.995,
    0.9999995, 0.99999949, 1.0000005, 12.345, 12.5, 12.25, 100.0, 1e15, 1e16, 1e17, 1e22, 1e300,
    -1e300, 2.0 ** 53, 2.0 ** 53 + 2, 9007199254740993.0, 123456789012.345, 1.7976931348623157e308,
    5e-324, -5e-324, 2.2250738585072014e-308, math.inf, -math.inf, math.nan, 0, 1, -1, 640, 10**20,
    True, False,
]


def _random_values(count: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    values: list[float] = []
    for _ in range(count):
        pick = rng.randrange(8)
        if pick == 0:
            values.append(rng.random())  # normalized coordinates
        elif pick == 1:
            values.append(rng.uniform(-5000, 5000))  # pixels
        elif pick == 2:
            values.append(round(rng.uniform(0, 4000), 2))  # pixels as COCO files hold them
        elif pick == 3:  # right at a rounding boundary of 2 or 6 decimals, and a hair off it
            decimals = rng.choice((2, 6))
            base = (rng.randrange(-10**6, 10**6) + 0.5) / 10**decimals
            values.append(base + rng.choice((0.0, 1e-12, -1e-12, 5e-17)))
        elif pick == 4:  # any bit pattern: subnormals, huge values, NaN and infinities
            values.append(struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0])
        elif pick == 5:
            values.append(rng.uniform(-1, 1) * 10 ** rng.randrange(-12, 20))
        elif pick == 6:
            values.append(rng.randrange(0, 5000) / rng.choice((1, 2, 4, 8, 10, 100, 640, 480)))
        else:
            values.append(float(rng.randrange(-10**6, 10**6)))
    return values


@pytest.mark.parametrize("value", EDGE_CASES, ids=repr)
def test_edge_cases_format_as_the_reference(value):
    assert numbers.format_absolute(value) == reference_shortest(value, 2)
    assert numbers.format_normalized(value) == reference_shortest(value, 6)
    assert numbers.shortest(value, 2) == reference_shortest(value, 2)


@pytest.mark.parametrize("seed", range(4))
def test_random_values_format_as_the_reference(seed):
    values = _random_values(250_000, seed)
    for value in values:
        if numbers.format_absolute(value) != reference_shortest(value, 2):
            pytest.fail(f"format_absolute({value!r})")
        if numbers.format_normalized(value) != reference_shortest(value, 6):
            pytest.fail(f"format_normalized({value!r})")


@pytest.mark.parametrize("value, absolute, normalized", [
    (0.0000005, "0", "0"),  # the binary value is just below 5e-7: it rounds down, to 0
    (1e-7, "0", "0"),
    (0.1 + 0.2, "0.3", "0.3"),
    (-0.0000001, "0", "0"),  # a negative zero after rounding is written 0
    (-12.5, "-12.5", "-12.5"),
    (1.0, "1", "1"),
    (12.25, "12.25", "12.25"),
    (1e17, "100000000000000000", "100000000000000000"),  # never exponent notation
])
def test_known_strings(value, absolute, normalized):
    assert numbers.format_absolute(value) == absolute
    assert numbers.format_normalized(value) == normalized
