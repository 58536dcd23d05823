"""python manage.py add_model NAME --backend openai|transformers|replay [...] — register or update a model."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from arena.registry import model_register
from workers.backends import BACKENDS


class Command(BaseCommand):
    help = "Register a model for the arena, or update the one with this name."

    def add_arguments(self, parser):
        parser.add_argument("name", help="public name, shown after the vote")
        parser.add_argument("--backend", required=True, choices=sorted(BACKENDS))
        parser.add_argument("--endpoint", default="", help="OpenAI-compatible base URL, e.g. http://gpu:8000/v1")
        parser.add_argument("--model-id", default="", help="remote model id, local directory, or recorded model")
        parser.add_argument("--api-key-env", default="", help="environment variable holding the API key")
        parser.add_argument("--params", default="{}", help="generation parameters as JSON")
        parser.add_argument("--weight", type=float, default=1.0)
        parser.add_argument("--max-concurrency", type=int, default=16)
        parser.add_argument("--timeout", type=float, default=120.0, help="seconds a whole answer may take")
        parser.add_argument("--queue", default="", help="Celery queue of the workers that serve it")
        parser.add_argument("--organization", default="")
        parser.add_argument("--inactive", action="store_true", help="register without serving it yet")

    def handle(self, *args, **o):
        try:
            params = json.loads(o["params"])
        except json.JSONDecodeError as error:
            raise CommandError(f"--params is not valid JSON: {error}") from None
        if not isinstance(params, dict):
            raise CommandError("--params must be a JSON object")
        try:
            model, created = model_register(
                name=o["name"],
                backend=o["backend"],
                endpoint=o["endpoint"],
                model_id=o["model_id"],
                api_key_env=o["api_key_env"],
                params=params,
                weight=o["weight"],
                max_concurrency=o["max_concurrency"],
                timeout_s=o["timeout"],
                queue=o["queue"],
                organization=o["organization"],
                active=not o["inactive"],
            )
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
                if hasattr(error, "error_dict")
                else " ".join(error.messages)
            ) from None
        self.stdout.write(self.style.SUCCESS(f"{'added' if created else 'updated'} {model.name} ({model.backend})"))
