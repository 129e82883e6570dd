"""Page-number pagination: ?page=1&page_size=20, with absolute next/previous links."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from .errors import InvalidOption

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def paginate(request: HttpRequest, queryset: QuerySet, serialize: Callable[[Any], dict]) -> dict:
    """A page past the end is empty rather than an error, so `while next:` loops end cleanly."""
    page = _positive(request, "page", 1, None)
    size = _positive(request, "page_size", PAGE_SIZE, MAX_PAGE_SIZE)
    count = queryset.count()
    start = (page - 1) * size
    rows = list(queryset[start:start + size]) if start < count else []
    return {
        "count": count,
        "page": page,
        "page_size": size,
        "next": _link(request, page + 1, size) if start + size < count else None,
        "previous": _link(request, page - 1, size) if page > 1 else None,
        "results": [serialize(row) for row in rows],
    }


def _positive(request: HttpRequest, name: str, default: int, maximum: int | None) -> int:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return default
    valid = raw.isascii() and raw.isdigit() and int(raw) >= 1
    if not valid or (maximum is not None and int(raw) > maximum):
        limit = f" and at most {maximum}" if maximum else ""
        raise InvalidOption(f"{name} must be a whole number of at least 1{limit}, got {raw!r}.",
                            field=name)
    return int(raw)


def _link(request: HttpRequest, page: int, size: int) -> str:
    query = request.GET.copy()
    query["page"] = str(page)
    query["page_size"] = str(size)
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
