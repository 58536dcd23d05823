"""AI pre-annotation with a registered model: it judges an annotation project's items, in both orders.

What the judge is asked, how its verdicts are read and stored, and the routing of unsure items to
humans are annotation's (annotation/ai_judge.py). Here the model is looked up in the registry and
asked, both candidate orders of every item, many requests at once, through the workers' backends.
"""

from __future__ import annotations

from annotation.ai_judge import (
    JudgeReport,
    items_to_judge,
    judge_label,
    judge_requests,
    judge_template,
    judgments_record,
)
from annotation.models import Project
from arena.models import ArenaModel
from workers.completion import complete_many


class JudgeError(Exception):
    pass


def project_pre_annotate(
    *, project: Project, model_name: str, limit: int = 1000, template: str = "", concurrency: int = 8
) -> JudgeReport:
    """Judge up to ``limit`` two-candidate items of the project that this model has not judged yet."""
    try:
        model = ArenaModel.objects.get(name=model_name)
    except ArenaModel.DoesNotExist:
        raise JudgeError(f"no registered model is called {model_name!r}") from None
    template = judge_template(project, template)
    items = items_to_judge(project=project, judge=judge_label(model.name), limit=limit)
    spec = model.spec()
    answers = complete_many([(spec, messages) for messages in judge_requests(items, template)], concurrency=concurrency)
    return judgments_record(
        project=project, items=items, model_name=model.name, answers=[(a.text, a.error) for a in answers]
    )
