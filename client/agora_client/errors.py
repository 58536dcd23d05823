"""The errors the client raises.

Every refusal of the API is an RFC 9457 problem (``application/problem+json``): ``title`` and ``status`` say
what kind of refusal, ``detail`` says what went wrong for a person, ``errors`` names each field (or each line
of a pushed body) and why. ``AgoraError`` carries all of it, so a caller can show ``str(error)`` as it is or
read the fields; the few subclasses exist only so that the usual cases can be caught by name.
"""

from __future__ import annotations

from http import HTTPStatus

import httpx

from agora_client.retries import retry_after


class AgoraError(Exception):
    """The API refused a request (or an export failed): ``status``, ``title``, ``detail`` and ``errors``
    (a list of ``{"field", "reason"}``)."""

    def __init__(
        self,
        status: int | None,
        title: str,
        detail: str,
        errors: list[dict] | None = None,
        *,
        type: str = "about:blank",
        response: httpx.Response | None = None,
    ):
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = list(errors or [])
        self.type = type
        self.response = response
        super().__init__(self._message())

    def _message(self) -> str:
        head = f"{self.status} {self.title}" if self.status is not None else self.title
        lines = [f"{head}: {self.detail}" if self.detail else head]
        lines += [f"  {e.get('field') or '(request)'}: {e.get('reason', '')}" for e in self.errors]
        return "\n".join(lines)


class Unauthorized(AgoraError):
    """401: no token, or not a valid one (revoked, mistyped, its user deactivated)."""


class Forbidden(AgoraError):
    """403: the token's scope or projects, or the user's role, do not allow this."""


class NotFound(AgoraError):
    """404: no such thing, or one the caller may not know exists (the API answers alike for both)."""


class Conflict(AgoraError):
    """409: it exists already (a project slug, a model name), or its state forbids the change."""


class Invalid(AgoraError):
    """422: the request does not fit (a field, or a record of a pushed body: ``errors`` names each)."""


class RateLimited(AgoraError):
    """429: over the token's requests a minute, after the client's retries. ``retry_after`` (seconds) says
    when the server expects to take requests again."""

    @property
    def retry_after(self) -> float | None:
        return retry_after(self.response) if self.response is not None else None


class ExportFailed(AgoraError):
    """An export job ended in the "failed" state; ``detail`` is the job's error and ``export`` the job."""

    def __init__(self, export):
        self.export = export
        super().__init__(None, f"Export {export.id} failed", export.error or "no error recorded")


_BY_STATUS: dict[int, type[AgoraError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Invalid,
    429: RateLimited,
}


def error_from_response(response: httpx.Response) -> AgoraError:
    """The error for a non-2xx response. The API answers with a problem; anything else (a proxy's HTML page,
    a crash's plain text) still becomes an AgoraError, with the start of the body as its detail."""
    status = response.status_code
    cls = _BY_STATUS.get(status, AgoraError)
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "title" in body:
        errors = body.get("errors") if isinstance(body.get("errors"), list) else []
        return cls(
            status,
            str(body.get("title", "")),
            str(body.get("detail", "")),
            [e for e in errors if isinstance(e, dict)],
            type=str(body.get("type", "about:blank")),
            response=response,
        )
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    if "html" in response.headers.get("Content-Type", ""):
        # A page, not the API: a path the API does not have, or an address that is not Agora's /api/v1/.
        detail = f"{response.request.method} {response.request.url} answered an HTML page, not the API's JSON."
    else:
        detail = response.text[:500].strip()
    return cls(status, title, detail, response=response)
