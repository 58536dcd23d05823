"""Annotation items answered by registered models: each model answers each prompt, the answers become items.

The models are looked up in the registry and asked through the workers' backends, many requests at
once; what becomes an item, and how it is keyed and stored, is annotation's
(annotation.items.items_from_answers).
"""

from __future__ import annotations

from annotation.items import GenerateReport, ItemsError, items_from_answers
from annotation.models import Project
from arena.models import ArenaModel
from workers.completion import complete_many


def items_generate(
    *, project: Project, prompts: list[str], model_names: list[str], concurrency: int = 8
) -> GenerateReport:
    """Ask each model for an answer to each prompt (through the workers' backends) and queue the answers.

    An item keeps the answers that came back; one with fewer than two (one for principle checks)
    is left out and reported, so a failing model never leaves a half-filled item in the queue.
    """
    models = {m.name: m for m in ArenaModel.objects.filter(name__in=model_names)}
    missing = [name for name in model_names if name not in models]
    if missing:
        raise ItemsError(f"no registered model called {', '.join(missing)}")
    prompts = [p.strip() for p in prompts if p and p.strip()]
    if not prompts:
        raise ItemsError("no prompts given")
    jobs = [(models[name].spec(), [{"role": "user", "content": prompt}]) for prompt in prompts for name in model_names]
    answers = complete_many(jobs, concurrency=concurrency)
    return items_from_answers(
        project=project, prompts=prompts, model_names=model_names, answers=[(a.text, a.error) for a in answers]
    )
