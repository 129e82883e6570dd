"""Validating what the popup, the command and the API ask for, in one place."""

from __future__ import annotations

import random
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from annotations.formats import registry
from annotations.formats.errors import UnknownFormat

SEED_MAX = 2**31 - 1


@dataclass(frozen=True)
class ExportChoice:
    format_id: str
    normalized: bool
    shuffle: bool
    seed: int | None  # None: pick one (and record it on the job)
    split_ratio: float
    include_images: bool


def parse_split(value: object) -> float:
    try:
        ratio = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError({"split_ratio": f"Train-test split must be a number, got {value!r}."})
    if not 0.0 <= ratio <= 1.0 or ratio != ratio:
        raise ValidationError({"split_ratio": f"Train-test split must be between 0 and 1, "
                                              f"got {ratio:g}."})
    return round(ratio, 4)


def parse_seed(value: object) -> int | None:
    if value in (None, ""):
        return None
    try:
        seed = int(str(value).strip())
    except ValueError:
        raise ValidationError({"seed": f"Seed must be a whole number, got {value!r}."})
    if not 0 <= seed <= SEED_MAX:
        raise ValidationError({"seed": f"Seed must be between 0 and {SEED_MAX}."})
    return seed


def parse_format(value: object) -> str:
    try:
        return registry.get_spec(str(value)).id
    except (UnknownFormat, ModuleNotFoundError):
        raise ValidationError({"format": f"Unknown export format {value!r}."})


def new_seed() -> int:
    return random.SystemRandom().randint(0, SEED_MAX)
