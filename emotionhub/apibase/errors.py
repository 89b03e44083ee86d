"""One error shape for every failure: ``{"error": {"code", "message", "details"?}}``.

``code`` is stable and machine-readable; ``message`` is for people. Domain code raises
:class:`emotionhub.core.errors.DomainError`; this module alone turns it (and DRF's and
Django's own exceptions) into HTTP answers.
"""

from __future__ import annotations

from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from emotionhub.core.errors import DomainError


class ApiError(DomainError):
    """A domain error raised by the API layer itself, which may also set response headers
    (``Location`` and the like). Domain code below the API raises :class:`DomainError`."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 400,
        details: dict | None = None,
        retry_after: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(code, message, status=status, details=details, retry_after=retry_after)
        self.headers = headers or {}


def domain_error_response(exc: DomainError) -> Response:
    """The one error shape for a :class:`DomainError`, with its status and headers."""
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.retry_after is not None:
        headers.setdefault("Retry-After", str(exc.retry_after))
    return Response(
        error_body(exc.code, exc.message, exc.details), status=exc.status, headers=headers
    )


DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.ParseError: "malformed_request",
    exceptions.Throttled: "rate_limited",
    exceptions.ValidationError: "invalid_request",
}


def reject_unknown_fields(data, serializer) -> None:
    """400 ``unknown_field`` for request keys the serializer does not accept as input.

    DRF silently drops unknown and read-only keys; a typo'd field should not be ignored.
    A body that is not an object at all (a JSON list, a number) is a 400 too, not a 500.
    """
    if not hasattr(data, "keys"):
        raise ApiError(
            "malformed_request", "The request body must be an object of fields.", status=400
        )
    allowed = {name for name, field in serializer.fields.items() if not field.read_only}
    unknown = sorted(set(data.keys()) - allowed)
    if unknown:
        raise ApiError(
            "unknown_field",
            f"Unknown or read-only fields: {', '.join(unknown)}. "
            f"Allowed: {', '.join(sorted(allowed))}.",
            status=400,
        )


def error_body(code: str, message: str, details=None) -> dict:
    error = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig | TooManyFilesSent | TooManyFieldsSent):
        return Response(
            error_body("request_too_large", str(exc) or "The request is too large."),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, DomainError):
        return domain_error_response(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: Django's 500 handler answers (JSON under /api/)
    code = next((c for cls, c in DRF_CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        message, details = "The request is invalid; see details.", response.data
    else:
        message, details = str(exc.detail), None
    response.data = error_body(code, message, details)
    return response


def json_not_found(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("not_found", "No such endpoint."), status=404)


def json_server_error(request) -> JsonResponse:
    return JsonResponse(
        error_body("internal_error", "Something went wrong on our side; it was logged."),
        status=500,
    )
