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
    """The popup's fields; annotations.formats.options holds the rules and their messages."""

    format = forms.CharField()
    normalized = forms.BooleanField(required=False)
    shuffle = forms.BooleanField(required=False)
    split_ratio = forms.CharField(required=False, initial="0")
    include_images = forms.BooleanField(required=False)
    seed = forms.CharField(required=False)

    def clean(self) -> dict:
        data = super().clean()
        spec = parse_format(self.data.get("format", ""))
        values = {name: data.get(name) for name in self.fields if name != "format"}
        values["split_ratio"] = self.data.get("split_ratio", "0")
        values["seed"] = self.data.get("seed", "")
        data["format"] = spec.id
        data["options"] = parse_export_options(values, spec)
        return data
