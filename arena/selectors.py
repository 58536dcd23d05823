"""Reads of the arena for pages: a battle's turns, the prompts the models know."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from arena.models import Answer, ArenaModel, Battle, BattleState
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
    if battle.state in (BattleState.VOTED, BattleState.FAILED) or len(turns) >= settings.AGORA_ARENA_MAX_TURNS:
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
