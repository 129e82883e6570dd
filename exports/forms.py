from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from .options import ExportChoice, parse_format, parse_seed, parse_split


class ExportForm(forms.Form):
    """The popup's fields; the parse_* helpers hold the rules and their messages."""

    format = forms.CharField()
    normalized = forms.BooleanField(required=False)
    shuffle = forms.BooleanField(required=False)
    split_ratio = forms.CharField(required=False, initial="0")
    include_images = forms.BooleanField(required=False)
    seed = forms.CharField(required=False)

    def clean(self) -> dict:
        data = super().clean()
        errors = {}
        for field, parse in (("format", parse_format), ("split_ratio", parse_split),
                             ("seed", parse_seed)):
            raw = self.data.get(field, "0" if field == "split_ratio" else "")
            try:
                data[field] = parse(raw)
            except ValidationError as exc:
                errors.update(exc.message_dict)
        if errors:
            raise ValidationError(errors)
        return data

    def choice(self) -> ExportChoice:
        data = self.cleaned_data
        return ExportChoice(format_id=data["format"], normalized=data["normalized"],
                            shuffle=data["shuffle"], seed=data["seed"],
                            split_ratio=data["split_ratio"],
                            include_images=data["include_images"])
