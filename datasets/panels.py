"""The dataset page's panels. The apps above datasets (the annotations tab, the exports' Current
Jobs) register the context their panel needs when Django starts, so that the page renders them
in its first response (it reads without JavaScript) while datasets imports none of those apps.
They register it by its dotted path, imported when a page first needs it: the shell commands and
the worker never load the views. Each panel also has its own partial endpoint in its app, which
HTMX uses to refresh it."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.utils.module_loading import import_string

from .models import Dataset

PanelContext = Callable[[HttpRequest, Dataset], dict]
_panels: dict[str, PanelContext | str] = {}


def register_panel(name: str, context: PanelContext | str) -> None:
    """`context` is the function, or its dotted path ("annotations.views.tab_context")."""
    _panels[name] = context


def panels_context(request: HttpRequest, dataset: Dataset) -> dict:
    """Every registered panel's context, merged, plus `panels`: their names."""
    context: dict = {"panels": list(_panels)}
    for name, build in _panels.items():
        if isinstance(build, str):
            build = _panels[name] = import_string(build)
        context.update(build(request, dataset))
    return context
