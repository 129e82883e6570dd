from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from annotations.formats import registry
from annotations.formats.errors import UnknownFormat
from annotations.formats.options import ExportOptions, OptionError, parse_options
from annotations.formats.spec import FormatSpec


def parse_format(value: object) -> FormatSpec:
    """The format's spec; the popup, the API and the command share the message."""
    try:
        return registry.get_spec(str(value))
    except (UnknownFormat, ModuleNotFoundError):
        raise ValidationError({"format": f"Unknown export format {value!r}."})


def parse_export_options(values: dict, spec: FormatSpec) -> ExportOptions:
    """parse_options, with its OptionError as a Django ValidationError on the option's field."""
    try:
        return parse_options(values, spec)
    except OptionError as exc:
        raise ValidationError({exc.field: exc.message})


class ExportForm(forms.Form):
    """The popup's fields; annotations.formats.options holds the rules and their messages.

    Labels arrive as checked `labels` boxes (with `labels_listed` set when the list was shown,
    so that none checked is an error rather than the default) and `rename:<label>` fields."""

    format = forms.CharField()
    normalized = forms.BooleanField(required=False)
    shuffle = forms.BooleanField(required=False)
    split_ratio = forms.CharField(required=False, initial="0")
    valid_ratio = forms.CharField(required=False, initial="0")
    split_mode = forms.CharField(required=False, initial="random")
    include_images = forms.BooleanField(required=False)
    annotated_only = forms.BooleanField(required=False)
    seed = forms.CharField(required=False)

    def clean(self) -> dict:
        data = super().clean()
        spec = parse_format(self.data.get("format", ""))
        # An empty text field takes the option's default, as an absent one does.
        values = {name: None if data.get(name) == "" else data.get(name)
                  for name in self.fields if name != "format"}
        values["split_ratio"] = self.data.get("split_ratio", "0")
        values["seed"] = self.data.get("seed", "")
        if self.data.get("labels_listed"):
            values["labels"] = _checked(self.data, "labels") or [""]
        values["rename"] = {key.removeprefix(RENAME_PREFIX): value
                            for key, value in self.data.items()
                            if key.startswith(RENAME_PREFIX) and value.strip()}
        data["format"] = spec.id
        data["options"] = parse_export_options(values, spec)
        return data


RENAME_PREFIX = "rename:"


def _checked(data, name: str) -> list[str]:
    """Every value of a repeated field (a QueryDict from a request, or a plain dict in code)."""
    if hasattr(data, "getlist"):
        return data.getlist(name)
    value = data.get(name)
    return list(value) if isinstance(value, (list, tuple)) else [value] if value else []
