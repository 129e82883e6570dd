"""The API's errors: an HTTP status, a stable machine code and a message for people.

Codes are part of the API contract (listed in openapi.py): scripts branch on them, never on the
message text.
"""

from __future__ import annotations


class ApiError(Exception):
    status = 400
    code = "invalid_request"

    def __init__(self, message: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers = headers or {}

    def body(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class InvalidJson(ApiError):
    status, code = 400, "invalid_json"


class InvalidOption(ApiError):
    status, code = 400, "invalid_option"


class UnusableOption(InvalidOption):
    """An option of the right type whose value cannot be used (out of range, shares adding up to
    more than 1, a label the dataset does not have): the request was understood, 422."""

    status = 422


class AuthenticationRequired(ApiError):
    status, code = 401, "authentication_required"


class InvalidToken(ApiError):
    status, code = 401, "invalid_token"


class NotFound(ApiError):
    status, code = 404, "not_found"


class MethodNotAllowed(ApiError):
    status, code = 405, "method_not_allowed"


class ExportNotFinished(ApiError):
    status, code = 409, "export_not_finished"


class ExportExpired(ApiError):
    status, code = 410, "export_expired"


class TooManyExports(ApiError):
    status, code = 429, "too_many_exports"


ERRORS: list[type[ApiError]] = [InvalidJson, InvalidOption, AuthenticationRequired, InvalidToken,
                                NotFound, MethodNotAllowed, ExportNotFinished, ExportExpired,
                                TooManyExports]
