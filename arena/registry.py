"""Writes of the model registry: add or update a model, register the replay models."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from arena.models import ArenaModel
from workers.backends import BACKENDS
from workers.backends.replay import replay_models


def model_register(*, name: str, backend: str, **settings) -> tuple[ArenaModel, bool]:
    """Create or update a model by its public name; validates like the admin form does, and checks that the
    backend has what it needs to answer (the command and the API refuse the same)."""
    if backend not in BACKENDS:
        raise ValidationError(f"unknown backend {backend!r}; choose one of {', '.join(sorted(BACKENDS))}")
    model = ArenaModel.objects.filter(name=name).first()
    created = model is None
    model = model or ArenaModel(name=name)
    model.backend = backend
    for field, value in settings.items():
        setattr(model, field, value)
    if not isinstance(model.params, dict):
        raise ValidationError({"params": ["Generation parameters must be a JSON object."]})
    if backend == "openai" and not model.endpoint:
        raise ValidationError({"endpoint": ["The openai backend needs an endpoint (its base URL)."]})
    if backend in ("transformers", "replay") and not model.model_id:
        raise ValidationError({"model_id": [f"The {backend} backend needs a model id."]})
    model.full_clean()
    model.save()
    return model, created


@transaction.atomic
def replay_models_register() -> int:
    """Register every recorded LLMFAO model as a replay model (idempotent); returns how many were new."""
    new = 0
    for recorded in replay_models():
        if ArenaModel.objects.filter(name=recorded["name"]).exists():
            continue
        model_register(
            name=recorded["name"],
            backend="replay",
            model_id=recorded["name"],
            organization=recorded.get("org") or "",
            max_concurrency=64,
            timeout_s=180.0,
        )
        new += 1
    return new
