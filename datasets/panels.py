"""The dataset page's panels. The apps above datasets (the annotations tab, the exports' Current
Jobs) register the context their panel needs when Django starts, so that the page renders them
in its first response (it reads without JavaScript) while datasets imports none of those apps.
Each panel also has its own partial endpoint in its app, which HTMX uses to refresh it."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest

from .models import Dataset

PanelContext = Callable[[HttpRequest, Dataset], dict]
_panels: dict[str, PanelContext] = {}


def register_panel(name: str, context: PanelContext) -> None:
    _panels[name] = context


def panels_context(request: HttpRequest, dataset: Dataset) -> dict:
    """Every registered panel's context, merged, plus `panels`: their names."""
    context: dict = {"panels": list(_panels)}
    for build in _panels.values():
        context.update(build(request, dataset))
    return context
