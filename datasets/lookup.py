"""Finding a dataset from the shell: by id, or by name or slug when that is unambiguous."""

from __future__ import annotations

from django.core.management.base import CommandError

from .models import Dataset


def dataset_from_argument(key: str) -> Dataset:
    if key.isdigit():
        found = Dataset.objects.filter(pk=int(key))
    else:
        found = Dataset.objects.filter(name=key) or Dataset.objects.filter(slug=key)
    found = list(found.select_related("owner")[:2])
    if not found:
        raise CommandError(f"no dataset {key!r}")
    if len(found) > 1:
        raise CommandError(f"several datasets are called {key!r}; give its id")
    return found[0]
