"""System checks: a misnamed pluggable part fails at start-up, not on the first visitor's prompt."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.utils.module_loading import import_string


@register()
def pluggable_parts(app_configs, **kwargs) -> list[CheckMessage]:
    errors = []
    for setting, kind in (("AGORA_SAMPLING_POLICY", "sampling policy"), ("AGORA_MODERATION", "moderation hook")):
        path = getattr(settings, setting)
        try:
            import_string(path)
        except ImportError as error:
            errors.append(Error(f"{setting}={path!r} names no importable {kind}: {error}", id="arena.E001"))
    if not (settings.AGORA_DATA_DIR / "llmfao" / "results.jsonl").exists():
        errors.append(
            Warning(
                f"{settings.AGORA_DATA_DIR}/llmfao/results.jsonl is missing: the replay models have nothing to play",
                hint="Set AGORA_DATA_DIR to the folder that holds llmfao/.",
                id="arena.W001",
            )
        )
    return errors
