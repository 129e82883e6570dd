"""The export options: one object from the popup, the API and the command to the zip's manifest.

`ExportOptions` is what a job stores (as JSON), what the pipeline reads and what the manifest
writes. Each field carries its parser and its JSON type, so the form, the API and the command
read every option the same way; adding an option is one field here (plus its form field, its
line in the popup and a test).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from annotations.formats.naming import clean_label
from annotations.formats.spec import FormatSpec
from annotations.formats.splits import SPLIT_MODES

SEED_MAX = 2**31 - 1
TRUE_WORDS = ("on", "true", "1", "yes")
FALSE_WORDS = ("off", "false", "0", "no", "")


class OptionError(ValueError):
    """An option value that cannot be used; `field` names the option."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def parse_boolean(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise OptionError(name, f"{name} must be on or off, got {value!r}.")


RATIO_TITLES = {"split_ratio": "Train-test split", "valid_ratio": "Validation share"}


def parse_ratio(name: str, value: object) -> float:
    title = RATIO_TITLES.get(name, name)
    try:
        ratio = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise OptionError(name, f"{title} must be a number, got {value!r}.")
    if not 0.0 <= ratio <= 1.0 or ratio != ratio:
        raise OptionError(name, f"{title} must be between 0 and 1, got {ratio:g}.")
    return round(ratio, 4)


def parse_split_mode(name: str, value: object) -> str:
    mode = str(value).strip().lower()
    if mode not in SPLIT_MODES:
        raise OptionError(name, f"Split mode must be one of {', '.join(SPLIT_MODES)}, "
                                f"got {value!r}.")
    return mode


def parse_labels(name: str, value: object) -> tuple[str, ...]:
    """Label names: a list, or one comma-separated string."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) for v in items):
        raise OptionError(name, f"Labels must be a list of label names, got {value!r}.")
    names = tuple(dict.fromkeys(v.strip() for v in items if v.strip()))
    if not names:
        raise OptionError(name, "Select at least one label to export.")
    return names


def parse_rename(name: str, value: object) -> dict[str, str]:
    """{from: to}: a mapping, or "from=to" strings (the command line)."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, (list, tuple)):
        pairs = {}
        for item in value:
            if not isinstance(item, str) or "=" not in item:
                raise OptionError(name, f"Rename {item!r} must be written old=new.")
            old, new = item.split("=", 1)
            pairs[old.strip()] = new
        value = pairs
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                              for k, v in value.items()):
        raise OptionError(name, f"Rename must map label names to new names, got {value!r}.")
    renamed = {}
    for old, new in value.items():
        try:
            cleaned = clean_label(new)
        except ValueError as exc:
            raise OptionError(name, f"Cannot rename {old!r}: {exc}.")
        if cleaned != old:
            renamed[old] = cleaned
    return renamed


def parse_seed(name: str, value: object) -> int | None:
    if value in (None, ""):
        return None
    try:
        seed = int(str(value).strip())
    except ValueError:
        raise OptionError(name, f"Seed must be a whole number, got {value!r}.")
    if not 0 <= seed <= SEED_MAX:
        raise OptionError(name, f"Seed must be between 0 and {SEED_MAX}.")
    return seed


def _option(default: Any, parse: Callable[[str, object], Any], json_type: str, help: str,
            bounds: tuple[float, float] | None = None,
            choices: tuple[str, ...] | None = None) -> Any:
    """A field with what the API needs to check and describe it (JSON type, bounds, help)."""
    metadata = {"parse": parse, "json": json_type, "help": help, "bounds": bounds,
                "choices": choices}
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True, slots=True)
class ExportOptions:
    normalized: bool = _option(
        False, parse_boolean, "boolean",
        "Coordinates divided by the image size. Default: the format's convention.")
    shuffle: bool = _option(
        False, parse_boolean, "boolean",
        "Shuffle images before the split. Default false (upload order).")
    seed: int | None = _option(  # None: one is picked when the job is made
        None, parse_seed, "integer",
        "Shuffle seed; default: one is picked and recorded on the job.", (0, SEED_MAX))
    split_ratio: float = _option(
        0.0, parse_ratio, "number", "Share of images in test/. Default 0.", (0, 1))
    include_images: bool = _option(
        True, parse_boolean, "boolean",
        "Put the image files in the zip. Default true (formats that embed images always "
        "include them).")
    valid_ratio: float = _option(
        0.0, parse_ratio, "number", "Share of images in valid/. Default 0 (no valid/).", (0, 1))
    split_mode: str = _option(
        "random", parse_split_mode, "string",
        "random (ordered, then cut), stratified (every class's share kept in each set) or "
        "stable (each image's set decided by its content and the seed alone) or keep (each "
        "image in the set it was uploaded with; the others by the stable rule).",
        choices=SPLIT_MODES)
    labels: tuple[str, ...] | None = _option(  # None: the default selection (FORMATS.md §1)
        None, parse_labels, "array",
        "Names of the labels to export. Default: every label the format's family can carry.")
    rename: dict[str, str] = _option(
        {}, parse_rename, "object",
        "{label: new name}; two labels renamed to one name are merged into one class.")
    annotated_only: bool = _option(
        False, parse_boolean, "boolean",
        "Leave out images with no written annotation. Default false.")

    def __post_init__(self) -> None:
        if self.labels is not None and not isinstance(self.labels, tuple):
            object.__setattr__(self, "labels", tuple(self.labels))  # JSON gives a list

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.labels is not None:
            data["labels"] = list(self.labels)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExportOptions:
        """The options a job stored; options added since it was made take their defaults."""
        return cls(**{name: data[name] for name in option_names() if name in data})

    def for_format(self, spec: FormatSpec) -> ExportOptions:
        """What the format actually writes: TFRecord records always carry the images."""
        if spec.images_always_included and not self.include_images:
            return replace(self, include_images=True)
        return self

    def with_seed(self) -> ExportOptions:
        """The seed recorded on a job: the one asked for, a new one to shuffle with, else 0.
        A stable or kept split takes 0 when none was asked for, so its sets stay put across
        exports."""
        if self.seed is not None:
            return self
        fresh = self.shuffle and self.split_mode not in ("stable", "keep")
        return replace(self, seed=new_seed() if fresh else 0)

    def same_export(self, other: ExportOptions) -> bool:
        """Would `other` (a job's stored options) write the same zip? Any seed matches when
        none was asked for."""
        mine, theirs = self.as_json(), other.as_json()
        if self.seed is None:
            mine.pop("seed"), theirs.pop("seed")
        return mine == theirs


def option_names() -> tuple[str, ...]:
    return tuple(f.name for f in fields(ExportOptions))


def option_json_types() -> dict[str, str]:
    """Each option's JSON Schema type ("boolean", "integer", "number")."""
    return {f.name: f.metadata["json"] for f in fields(ExportOptions)}


def option_schemas() -> dict[str, dict[str, Any]]:
    """Each option as a JSON Schema property (the API's OpenAPI document)."""
    schemas = {}
    for option in fields(ExportOptions):
        json_type = option.metadata["json"]
        schema: dict[str, Any] = {"type": json_type}
        if option.metadata["bounds"] is not None:
            schema["minimum"], schema["maximum"] = option.metadata["bounds"]
        if option.metadata["choices"] is not None:
            schema["enum"] = list(option.metadata["choices"])
        if json_type == "array":  # null: the default selection
            schema.update(type=["array", "null"], items={"type": "string"})
        if json_type == "object":
            schema["additionalProperties"] = {"type": "string"}
        schema["description"] = option.metadata["help"]
        schemas[option.name] = schema
    return schemas


def default_normalized(spec: FormatSpec) -> bool:
    """Normalized by default exactly when the format's convention is (False without coordinates)."""
    return bool(spec.normalized)


def parse_options(values: Mapping[str, object], spec: FormatSpec) -> ExportOptions:
    """The options from raw values (form strings, JSON values, command arguments); an absent or
    None value takes the default, `normalized` the format's convention. Raises OptionError."""
    parsed: dict[str, Any] = {}
    for option in fields(ExportOptions):
        value = values.get(option.name)
        if value is not None:
            parsed[option.name] = option.metadata["parse"](option.name, value)
    parsed.setdefault("normalized", default_normalized(spec))
    options = ExportOptions(**parsed)
    total = options.split_ratio + options.valid_ratio
    if total > 1.0 + 1e-9:
        raise OptionError("valid_ratio", f"Train-test split ({options.split_ratio:g}) and "
                                         f"validation share ({options.valid_ratio:g}) add up "
                                         f"to {total:g}; together they must be at most 1.")
    return options.for_format(spec)


def new_seed() -> int:
    return random.SystemRandom().randint(0, SEED_MAX)
