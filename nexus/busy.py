"""A request that meets a database still locked after the connection's timeout answers 503
"busy, try again" (with Retry-After), never a 500 with a traceback.

SQLite lets one writer at a time; imports keep their write transaction short (annotations.plans),
but a request can still wait out its timeout behind another writer. Other database errors are
left alone: they are bugs, and keep their 500 and their log entry.
"""

from __future__ import annotations

import logging
import sys

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)
MESSAGE = "The database is busy with another change; try again in a moment."
RETRY_AFTER = "5"


def is_busy(error: BaseException | None) -> bool:
    text = str(error).lower()
    return isinstance(error, OperationalError) and ("locked" in text or "busy" in text)


def busy_response(request: HttpRequest) -> HttpResponse:
    logger.warning("database busy: %s %s answered 503", request.method, request.path)
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": MESSAGE}, status=503)
    else:
        response = HttpResponse(MESSAGE, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = RETRY_AFTER
    return response


class BusyDatabaseMiddleware:
    """Views that raise "database is locked" answer 503 (see the module docstring)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return busy_response(request) if is_busy(exception) else None


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the same 503 for a lock met outside a view (a middleware saving the session),
    else Django's own 500 page."""
    if is_busy(sys.exc_info()[1]):
        return busy_response(request)
    from django.views.defaults import server_error as default

    return default(request)
