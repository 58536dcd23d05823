"""Failed logins, counted per account and address, and per address (django-axes).

axes counts failures in its AccessAttempt table and refuses a login once a count reaches
AXES_FAILURE_LIMIT. It has one limit for every lockout parameter; an address shared by many
people (an office, a NAT) needs a higher one than a single account does, so the handler below
reports an address over AGORA_LOGIN_FAILURES_PER_IP as at the limit. The settings name the
parameters: [["username", "ip_address"], "ip_address"], in that order.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def client_ip(request: HttpRequest) -> str | None:
    # The peer, or behind a trusted proxy the visitor (config/proxies.py rewrites REMOTE_ADDR), like the arena's limits.
    return request.META.get("REMOTE_ADDR")


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    minutes = round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    return render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)


class LoginFailuresHandler(AxesDatabaseHandler):
    def reset_user_attempts(self, request, credentials: dict | None = None) -> int:
        # A success clears that account's failures from that address only: clearing the address's count
        # too would let anyone with one account reset the per-address limit by logging in between guesses.
        per_account = self.filter_user_attempts(request, credentials)[0]
        count, _ = per_account.delete()
        return count

    def get_failures(self, request, credentials: dict | None = None) -> int:
        per_account, per_address = (
            attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        if per_address >= settings.AGORA_LOGIN_FAILURES_PER_IP:
            return max(per_account, settings.AXES_FAILURE_LIMIT)
        return per_account


class LoginLimitBackend(AxesStandaloneBackend):
    """Refuses a locked-out login before any password is checked; counts nothing without a request.

    Every login view passes the request (Django's LoginView and the admin's do). A call without one
    (the test client's ``login()``, a shell) has no client to count, so it is left to the next backend
    instead of raising as axes' own backend does.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
