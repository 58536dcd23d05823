"""Reads of the arena for pages: a battle's turns, the prompts the models know, how often each model was drawn."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from arena.models import SETTLED, Answer, ArenaModel, Battle
from arena.services import sides_can_continue
from workers.backends.replay import known_prompts

# Stands for the follow-up not typed yet: whether a backend takes a next turn does not depend on its text.
NEXT_PROMPT = "…"


@dataclass
class Turn:
    index: int
    prompt: str
    answers: list[Answer]  # side 0 then side 1


@dataclass(frozen=True)
class PromptOffer:
    suggestions: list[dict]  # the recorded prompts, when replay models are active
    any_prompt: bool  # at least two active models answer prompts of the visitor's own


def battle_for_judge(*, public_id: str, judge: str) -> Battle | None:
    return (
        Battle.objects.select_related("model_a", "model_b", "judgment").filter(public_id=public_id, voter=judge).first()
    )


def battle_turns(battle: Battle) -> list[Turn]:
    turns: dict[int, Turn] = {}
    for answer in Answer.objects.filter(battle=battle).order_by("turn", "side"):
        turns.setdefault(answer.turn, Turn(index=answer.turn, prompt=answer.prompt, answers=[])).answers.append(answer)
    return list(turns.values())


def followup_offered(battle: Battle, turns: list[Turn]) -> bool:
    """Whether the battle page offers a follow-up: not after the vote or a failure, not past the last
    turn, and only when both models can take one (replay models answer a first prompt only)."""
    if battle.state in SETTLED or len(turns) >= settings.AGORA_ARENA_MAX_TURNS:
        return False
    return sides_can_continue(battle, [a for turn in turns for a in turn.answers], NEXT_PROMPT)


def suggested_prompts() -> list[dict]:
    """The recorded prompts, when replay models are active (they answer nothing else)."""
    if not ArenaModel.objects.filter(active=True, backend="replay").exists():
        return []
    return known_prompts()


def prompt_offer() -> PromptOffer:
    """What the arena page leads with: the recorded prompts when only replay models could answer."""
    others = ArenaModel.objects.filter(active=True).exclude(backend="replay").count()
    return PromptOffer(suggestions=suggested_prompts(), any_prompt=others >= 2)


# --- published sampling --------------------------------------------------------------------------

RECENT_DAYS = 30


@dataclass
class ModelShare:
    name: str
    organization: str
    active: bool
    weight: float
    battles: int = 0  # settled battles it answered in, all time
    recent: int = 0  # the same, in the last RECENT_DAYS days
    share: float | None = None  # of all models' appearances (two per battle), all time
    recent_share: float | None = None

    @property
    def share_text(self) -> str:
        return _percent(self.share)

    @property
    def recent_share_text(self) -> str:
        return _percent(self.recent_share)


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share:.1%}"


@dataclass
class SamplingReport:
    models: list[ModelShare]
    battles: int  # settled battles, all time (of every model, whatever the filter)
    recent: int
    organizations: list[str]  # every organization the arena has had a model of


def sampling_report(*, organization: str | None = None, now=None) -> SamplingReport:
    """Every model the arena has had (retired and inactive ones too) with how often it was drawn into
    a settled battle; ``organization`` keeps that organization's models (shares stay of the whole arena)."""
    since = (now or timezone.now()) - timedelta(days=RECENT_DAYS)
    settled = Battle.objects.filter(state__in=SETTLED)
    counts: dict[int, list[int]] = {}
    for side in ("model_a", "model_b"):
        for row in settled.values(side).annotate(n=Count("id"), recent=Count("id", filter=Q(created_at__gte=since))):
            total = counts.setdefault(row[side], [0, 0])
            total[0] += row["n"]
            total[1] += row["recent"]
    appearances = sum(n for n, _ in counts.values())
    recent_appearances = sum(r for _, r in counts.values())
    models = ArenaModel.objects.order_by("name")
    if organization is not None:
        models = models.filter(organization=organization)
    rows = []
    for model in models:
        battles, recent = counts.get(model.pk, (0, 0))
        rows.append(
            ModelShare(
                name=model.name,
                organization=model.organization,
                active=model.active,
                weight=model.weight,
                battles=battles,
                recent=recent,
                share=battles / appearances if appearances else None,
                recent_share=recent / recent_appearances if recent_appearances else None,
            )
        )
    rows.sort(key=lambda r: (-r.battles, r.name))
    return SamplingReport(rows, appearances // 2, recent_appearances // 2, organizations())


def organizations() -> list[str]:
    return sorted(set(ArenaModel.objects.exclude(organization="").values_list("organization", flat=True)))
