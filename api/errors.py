"""One error shape everywhere: RFC 9457 problem details (``application/problem+json``).

``{"type", "title", "status", "detail", "errors": [{"field", "reason"}]}``: ``detail`` says what went wrong
for a person, ``errors`` names each field (or line of a pushed body) and why. Anything a client sent wrong
gets a 4xx; handlers here turn every error the API's code raises into one.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse
from ninja import Schema
from ninja.errors import AuthenticationError, AuthorizationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

CONTENT_TYPE = "application/problem+json"
logger = logging.getLogger("api")


class FieldError(Schema):
    field: str
    reason: str


class Problem(Schema):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] = []


class ApiError(Exception):
    """Raised by the API's code: becomes a problem response with this status."""

    def __init__(self, status: int, detail: str, errors: list[tuple[str, str]] = (), headers: dict | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors)
        self.headers = headers or {}


def problem_body(status: int, detail: str, errors: list[tuple[str, str]] = ()) -> bytes:
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "errors": [{"field": f, "reason": r} for f, r in errors],
    }
    return json.dumps(body).encode()


def problem_response(
    status: int, detail: str, errors: list[tuple[str, str]] = (), headers: dict | None = None
) -> HttpResponse:
    response = HttpResponse(problem_body(status, detail, errors), status=status, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _location(loc) -> str:
    # ninja's locations start with where the value was (body, query, path); the rest names the field.
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    if len(parts) > 1 and parts[0] == "body":  # every operation's body parameter is named body
        parts = parts[1:]
    return ".".join(parts)


def _unexpected(request, error: Exception) -> HttpResponse:
    # A bug, not the client's fault: logged with its traceback (and mailed to the admins, as Django's own
    # 500s are), answered as a problem document a client can read rather than the site's HTML page.
    logger.exception("API error on %s %s", request.method, request.path, exc_info=error)
    return problem_response(500, "Something went wrong on the server; it was logged. Try again later.")


def install(api) -> None:
    api.add_exception_handler(Exception, _unexpected)
    api.add_exception_handler(ApiError, lambda r, e: problem_response(e.status, e.detail, e.errors, e.headers))
    api.add_exception_handler(
        NinjaValidationError,
        lambda r, e: problem_response(
            422,
            "The request does not fit the schema.",
            [(_location(err.get("loc", ())), str(err.get("msg", "invalid"))) for err in e.errors],
        ),
    )
    api.add_exception_handler(
        AuthenticationError,
        lambda r, e: problem_response(
            401,
            "Send a valid API token (Authorization: Bearer agora_…) or log in.",
            headers={"WWW-Authenticate": 'Bearer realm="agora"'},
        ),
    )
    api.add_exception_handler(
        AuthorizationError, lambda r, e: problem_response(403, str(e) or "This token may not do that.")
    )
    api.add_exception_handler(HttpError, lambda r, e: problem_response(e.status_code, str(e)))
    api.add_exception_handler(Http404, lambda r, e: problem_response(404, str(e) or "Not found."))
    api.add_exception_handler(PermissionDenied, lambda r, e: problem_response(403, str(e) or "Not allowed."))
    api.add_exception_handler(
        DjangoValidationError,
        lambda r, e: problem_response(
            422,
            "Some fields cannot be stored.",
            [(k, " ".join(v)) for k, v in e.message_dict.items()]
            if hasattr(e, "error_dict")
            else [("", m) for m in e.messages],
        ),
    )


# Every operation documents these beside its success response, so a client (and the schema fuzzer) knows
# the shape of each refusal.
PROBLEMS = {status: Problem for status in (400, 401, 403, 404, 409, 413, 422, 429)}
