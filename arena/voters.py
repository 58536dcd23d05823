"""Pseudonymous voter keys for anonymous arena visitors.

A visitor gets a random key in a signed cookie on first visit: no login, no IP
stored, and a key cannot be forged to vote as someone else. Judgments store it
as ``voter:<key>``, and the network address only as a keyed hash (``address_pseudonym``),
so the judges' review can count keys per address without anyone reading the address back.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core import signing
from django.utils.crypto import salted_hmac

SALT = "agora.voter"


def address_pseudonym(address: str | None) -> str | None:
    """The address as a keyed hash (HMAC with the secret key): equal addresses give equal pseudonyms,
    and without the secret key none leads back to its address."""
    if not address:
        return None
    return salted_hmac("agora.address", address, algorithm="sha256").hexdigest()[:20]


def new_voter_key() -> str:
    return secrets.token_urlsafe(16)


def voter_key_from_cookie(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return signing.Signer(salt=SALT).unsign(value)
    except signing.BadSignature:
        return None


class VoterKeyMiddleware:
    """Sets ``request.voter_key``; issues a signed cookie when the visitor has none."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = voter_key_from_cookie(request.COOKIES.get(settings.VOTER_COOKIE_NAME))
        issued = key is None
        request.voter_key = key or new_voter_key()
        response = self.get_response(request)
        if issued:
            response.set_cookie(
                settings.VOTER_COOKIE_NAME,
                signing.Signer(salt=SALT).sign(request.voter_key),
                max_age=settings.VOTER_COOKIE_MAX_AGE,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response
