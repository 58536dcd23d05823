"""python manage.py api_token USERNAME --name NAME [--scope read|write] [--project SLUG …] — print a new token."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from api.models import Scope
from api.tokens import TokenError, token_create


class Command(BaseCommand):
    help = "Create an API token for a user and print it (it is shown once; only its digest is kept)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="what the token is for")
        parser.add_argument("--scope", choices=Scope.values, default=Scope.READ)
        parser.add_argument("--project", action="append", default=[], help="limit it to this project (repeatable)")
        parser.add_argument("--rate-limit", type=int, help="requests a minute (default: AGORA_API_REQUESTS_PER_MINUTE)")

    def handle(self, *args, **o):
        user = get_user_model().objects.filter(username=o["username"]).first()
        if user is None:
            raise CommandError(f"no user named {o['username']!r}")
        try:
            _, raw = token_create(
                user=user, name=o["name"], scope=o["scope"], projects=o["project"], rate_limit=o["rate_limit"]
            )
        except TokenError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(raw)
