"""Creating, checking and revoking API tokens."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from django.contrib.postgres.aggregates import ArrayAgg
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotation.models import Project
from api.models import ApiToken, Scope

PREFIX = "agora_"
# agora_<12 hex digits>_<43 URL-safe base64 characters: 32 random bytes>
TOKEN_FORMAT = re.compile(r"agora_([0-9a-f]{12})_[A-Za-z0-9_-]{43}")
# last_used_at is written at most this often per token: one UPDATE per request would make every read a write.
TOUCH_EVERY = timedelta(minutes=1)


class TokenError(ValueError):
    """The token cannot be created as asked; the message says why."""


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_create(
    *, user, name: str, scope: str = Scope.READ, projects: list[str] = (), rate_limit: int | None = None
) -> tuple[ApiToken, str]:
    """The new token and its text, which is shown once and never stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise TokenError("Give the token a name of 1 to 100 characters.")
    if scope not in Scope.values:
        raise TokenError(f"The scope must be {' or '.join(Scope.values)}.")
    if rate_limit is not None and rate_limit < 1:
        raise TokenError("The rate limit must be 1 request a minute or more.")
    chosen = list(Project.objects.filter(slug__in=list(projects)))
    if unknown := sorted(set(projects) - {p.slug for p in chosen}):
        raise TokenError(f"No project {', '.join(unknown)}.")
    prefix = secrets.token_hex(6)
    raw = f"{PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=prefix,
            digest=_digest(raw),
            scope=scope,
            rate_limit=rate_limit,
            limited=bool(chosen),
        )
        token.projects.set(chosen)
    return token, raw


def token_check(raw: str) -> ApiToken | None:
    """The live token this text is, with its user and project ids loaded; None for anything else."""
    match = TOKEN_FORMAT.fullmatch(raw)
    if match is None:  # never a query with text that is no token (a NUL would not even reach the database)
        return None
    prefix = match.group(1)
    # One query: the token, its user and its projects' ids.
    token = (
        ApiToken.objects.select_related("user")
        .annotate(project_list=ArrayAgg("projects__id", filter=Q(projects__isnull=False), default=[]))
        .filter(prefix=prefix, revoked_at__isnull=True)
        .first()
    )
    # compare_digest: the time taken says nothing about how much of the digest matched.
    if token is None or not hmac.compare_digest(token.digest, _digest(raw)) or not token.user.is_active:
        return None
    token.project_ids = frozenset(token.project_list)
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def token_revoke(*, user, token_id: int) -> bool:
    """Revoke one of the user's tokens (staff: anyone's); False if there is no such live token."""
    tokens = ApiToken.objects.filter(pk=token_id, revoked_at__isnull=True)
    if not user.is_staff:
        tokens = tokens.filter(user=user)
    return tokens.update(revoked_at=timezone.now()) == 1
