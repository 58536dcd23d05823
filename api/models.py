"""Personal API tokens: shown once, stored as a SHA-256 digest, revocable, with a scope and projects."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.models import Project


class Scope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"


class ApiToken(models.Model):
    """A token is ``agora_<prefix>_<secret>``; the prefix finds the row, the digest of the whole token checks it.

    SHA-256 rather than a slow password hash: the secret is 256 random bits, so there is nothing to guess,
    and a token is checked on every request."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    scope = models.CharField(max_length=5, choices=Scope.choices, default=Scope.READ)
    # Not limited: every project the user may use. Limited: only ``projects``, even if the user may use more
    # (and none once those are deleted: an empty list then means nothing, never everything).
    limited = models.BooleanField(default=False)
    projects = models.ManyToManyField(Project, blank=True, related_name="api_tokens")
    # Requests per minute; null means the site's AGORA_API_REQUESTS_PER_MINUTE.
    rate_limit = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(scope__in=Scope.values), name="apitoken_scope_valid"),
            models.CheckConstraint(condition=Q(rate_limit__isnull=True) | Q(rate_limit__gte=1), name="apitoken_rate"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.user}, {self.scope})"
