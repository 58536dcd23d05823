"""python manage.py load_demo — real data for a first start.

Imports the LLMFAO crowd judgments (8,931 votes by 124 workers on 2,139 pairs
of real answers from 59 models to 13 prompts) from AGORA_DATA_DIR/llmfao, and
registers the 59 LLMFAO models as replay models for the arena (they stream
their recorded answers to the 13 prompts), and creates the demo accounts:
``admin`` (staff) and ``annotator``, with passwords from AGORA_DEMO_PASSWORD or generated and printed once.
"""

from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from arena.registry import replay_models_register


class Command(BaseCommand):
    help = "Load the LLMFAO demo data and demo accounts (idempotent)."

    def handle(self, *args, **options):
        crowd = settings.AGORA_DATA_DIR / "llmfao" / "crowd-comparisons.csv"
        if not crowd.exists():
            raise CommandError(f"{crowd} is missing; set AGORA_DATA_DIR to the folder that holds llmfao/")
        call_command("import_judgments", str(crowd), "--format", "llmfao", stdout=self.stdout, stderr=self.stderr)
        new = replay_models_register()
        self.stdout.write(f"arena: {new} replay models registered")
        self._account("admin", staff=True)
        self._account("annotator", staff=False, group="annotators")

    def _account(self, username: str, *, staff: bool, group: str | None = None) -> None:
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            return
        password = os.environ.get("AGORA_DEMO_PASSWORD") or secrets.token_urlsafe(9)
        if staff:
            user = User.objects.create_superuser(username, password=password)
        else:
            user = User.objects.create_user(username, password=password)
        if group:
            user.groups.add(Group.objects.get_or_create(name=group)[0])
        self.stdout.write(self.style.SUCCESS(f"demo account: {username} / {password}"))
