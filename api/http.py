"""The one decorator every JSON view wears: method check, bearer auth, errors as JSON.

API views are csrf_exempt because they never read the session: the user comes from the bearer
token alone (request.user is replaced), so a browser's cookies cannot act through them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from . import auth
from .errors import ApiError, MethodNotAllowed, NotFound

View = Callable[..., HttpResponse]


def json_response(data: dict, status: int = 200, headers: dict[str, str] | None = None
                  ) -> JsonResponse:
    response = JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})
    for name, value in (headers or {}).items():
        response[name] = value
    # Job status changes from one poll to the next: no cache may answer for the server.
    response["Cache-Control"] = "no-store"
    return response


def error_response(error: ApiError) -> JsonResponse:
    headers = dict(error.headers)
    if error.status == 401:
        extra = ', error="invalid_token"' if error.code == "invalid_token" else ""
        headers["WWW-Authenticate"] = f'Bearer realm="nexus"{extra}'
    return json_response(error.body(), status=error.status, headers=headers)


def api_view(*methods: str, public: bool = False) -> Callable[[View], View]:
    """Wrap a view taking (request, ...); request.user is the token's owner unless public."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            try:
                if request.method not in methods:
                    raise MethodNotAllowed(f"{request.method} is not allowed here; use "
                                           f"{' or '.join(methods)}.",
                                           headers={"Allow": ", ".join(methods)})
                if not public:
                    request.user = auth.authenticate(request)
                return view(request, *args, **kwargs)
            except Http404:
                return error_response(NotFound("Not found, or not yours."))
            except ApiError as error:
                return error_response(error)

        return csrf_exempt(login_not_required(wrapper))

    return decorate
