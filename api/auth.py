"""Who is calling: a bearer token or a browser session, what they may do, and how often.

A token carries a scope (read or write: checked once, by the request's method) and, optionally, a list of
projects; every endpoint also checks the same permissions as the pages (project roles, staff). A session is
the logged-in user with full scope; its writes need the CSRF token like any form. Tokens are rate-limited
per minute in Redis, with Retry-After.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from annotation.models import Project, Role
from annotation.sql import PROJECT_FOR_SQL
from annotation.storable import storable_text_problem
from api.errors import ApiError
from api.models import ApiToken, Scope
from api.tokens import token_check
from arena.rate_limits import hit


@dataclass(frozen=True)
class Caller:
    user: object
    token: ApiToken | None = None  # None: a browser session

    @property
    def is_staff(self) -> bool:
        return bool(self.user.is_staff)

    def require_staff(self) -> None:
        if not self.user.is_staff:
            raise ApiError(403, "Only staff may do this.")

    @property
    def limited(self) -> bool:
        """A token for some projects only: it reaches nothing beyond them, site-wide selections included."""
        return self.token is not None and self.token.limited

    def token_allows(self, project: Project) -> bool:
        return not self.limited or project.pk in self.token.project_ids

    def require_unlimited(self, what: str) -> None:
        if self.limited:
            raise ApiError(403, f"This token is limited to some projects; {what} needs a token for every project.")

    def selection(self, project: str | None, what: str) -> None:
        """Who may select judgments (to read or export them): a project's owners, naming it; staff, anything,
        ``what`` (a site-wide selection) with a token for every project."""
        if project:
            self.project(project, (Role.OWNER,))
        elif not self.is_staff:
            raise ApiError(422, f"Name a project you own; {what} is for staff.", [("project", "required")])
        else:
            self.require_unlimited(what)

    def project(self, slug: str, roles: tuple[str, ...] = tuple(Role.values)) -> Project:
        """The project if the caller may use it with one of ``roles`` (staff: any); 404 otherwise, as on the
        pages, since whether it exists is not theirs to know. 403 when the token is what stops them."""
        # One query, the pages' own (annotation/views.py project_for): the project with the caller's membership.
        found = list(Project.objects.raw(PROJECT_FOR_SQL, [self.user.pk, list(roles), slug]))
        project = found[0] if found else None
        if project is None or not (project.member or self.user.is_staff):
            raise ApiError(404, f"No project {slug!r}.")
        if not self.token_allows(project):
            raise ApiError(403, f"This token is not for the project {slug!r}.")
        return project


def _throttle(token: ApiToken) -> None:
    limit = token.rate_limit or settings.AGORA_API_REQUESTS_PER_MINUTE
    if not hit("api", token.prefix, limit):
        # The window is the current minute (arena/rate_limits.py), so it reopens at the next one.
        retry = 60 - int(time.time()) % 60
        raise ApiError(
            429, f"Over this token's limit of {limit} requests a minute.", headers={"Retry-After": str(retry)}
        )


def _refuse_unstorable(request: HttpRequest) -> None:
    """A path or query value the database cannot hold would fail the first lookup with it: refuse it first."""
    for name, value in [("path", request.path), *((k, v) for k, values in request.GET.lists() for v in values)]:
        problem = storable_text_problem(value) or storable_text_problem(name)
        if problem:
            raise ApiError(400, f"The {name} {problem}.", [(name, problem)])


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Caller | None:
        _refuse_unstorable(request)
        found = token_check(token)
        if found is None:
            return None
        if request.method not in ("GET", "HEAD", "OPTIONS") and found.scope != Scope.WRITE:
            # The one scope check: every operation that changes data takes another method than these, and this
            # runs before the body is read, so a read-only token learns nothing from a write's validation.
            raise ApiError(403, "This token is read-only; create a read-write token to change data.")
        _throttle(found)
        request.user = found.user  # so that what reads request.user (logging, admin checks) sees the token's user
        return Caller(found.user, found)


class Session(SessionAuth):
    def authenticate(self, request: HttpRequest, key: str | None) -> Caller | None:
        _refuse_unstorable(request)
        user = super().authenticate(request, key)
        return Caller(user) if user is not None else None


def caller(request: HttpRequest) -> Caller:
    return request.auth
