"""Reads of the arena for pages: a battle's turns, the prompts the models know."""

from __future__ import annotations

from dataclasses import dataclass

from arena.models import Answer, ArenaModel, Battle


@dataclass
class Turn:
    index: int
    prompt: str
    answers: list[Answer]  # side 0 then side 1


def battle_for_judge(*, public_id: str, judge: str) -> Battle | None:
    return (
        Battle.objects.select_related("model_a", "model_b", "judgment")
        .filter(public_id=public_id, voter=judge)
        .first()
    )


def battle_turns(battle: Battle) -> list[Turn]:
    turns: dict[int, Turn] = {}
    for answer in Answer.objects.filter(battle=battle).order_by("turn", "side"):
        turns.setdefault(answer.turn, Turn(index=answer.turn, prompt=answer.prompt, answers=[])).answers.append(answer)
    return list(turns.values())


def suggested_prompts() -> list[dict]:
    """The recorded prompts, when replay models are active (they answer nothing else)."""
    if not ArenaModel.objects.filter(active=True, backend="replay").exists():
        return []
    from workers.backends.replay import known_prompts

    return known_prompts()
