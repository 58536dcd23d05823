"""Writes of the arena: start a battle, add a turn, record the vote.

Each is validate-then-mutate: the checks raise an ArenaError whose message a
visitor reads; the mutation runs in one transaction and enqueues generation
only after commit, so a worker never looks for a row that is not there yet.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from annotation import live
from annotation.candidates import style_fields
from annotation.models import (
    Candidate,
    Comparison,
    FlagKind,
    IntegrityFlag,
    JudgeKind,
    Judgment,
    Outcome,
    Score,
    Source,
)
from arena import integrity, moderation, rate_limits
from arena.models import Answer, AnswerState, ArenaModel, Battle, BattleState
from arena.sampling import sampling_policy
from arena.voters import address_pseudonym
from workers.backends import backend_for

SCORE_ATTRIBUTE = "overall"  # the 1–7 score per side
VOTE_CHOICES = ("a", "b", "tie", "both_bad")


class ArenaError(Exception):
    """A request the arena refuses, with a message for the visitor."""

    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class RateLimited(ArenaError):
    status = 429


class NoModelsAvailable(ArenaError):
    """Models that could answer exist, but all are at their concurrency limit: a moment later one may be free."""

    status = 503


class NoModelCanAnswer(ArenaError):
    """Fewer than two active models can answer this prompt at all: waiting will not change that."""

    status = 422


class VoteRefused(ArenaError):
    status = 409


class NotYours(Exception):
    """The battle belongs to another visitor: views answer 404, as if it did not exist."""


def judge_label(*, user, voter_key: str) -> str:
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"voter:{voter_key}"


# --- checks -----------------------------------------------------------------


def prompt_length_check(text: str) -> None:
    limit = settings.AGORA_ARENA_MAX_PROMPT_CHARS
    if len(text) > limit:
        raise ArenaError(f"That prompt is {len(text):,} characters long; the limit is {limit:,}.")


def prompt_check(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ArenaError("Type a prompt first.")
    prompt_length_check(text)
    refusal = moderation.moderate(text)
    if refusal:
        raise ArenaError(refusal)
    return text


def rate_check(*, judge: str, client_ip: str | None) -> None:
    if not rate_limits.hit("prompt", judge, settings.AGORA_ARENA_PROMPTS_PER_MINUTE) or (
        client_ip and not rate_limits.hit("prompt-ip", client_ip, settings.AGORA_ARENA_PROMPTS_PER_MINUTE_PER_IP)
    ):
        raise RateLimited("Too many prompts in the last minute. Wait a moment and try again.")


REGISTER_A_MODEL = (
    'To ask anything, register a model server: python manage.py add_model "NAME" --backend openai '
    '--endpoint http://HOST:8000/v1 --model-id MODEL (see "Adding a model" in the README).'
)


def _why_none_can_answer(active: list[ArenaModel], able: list[ArenaModel]) -> str:
    if any(model.backend == "replay" for model in active):
        return (
            "The models here replay recorded answers, so they answer only the recorded prompts offered on "
            f"the arena page. Pick one of those. {REGISTER_A_MODEL}"
        )
    if not active:
        return f"No models are registered yet, so no battle can start. {REGISTER_A_MODEL}"
    return (
        f"Only {len(able)} of the {len(active)} active models can answer this prompt, and a battle needs "
        f"two. {REGISTER_A_MODEL}"
    )


def eligible_models(messages: list[dict]) -> list[ArenaModel]:
    """Two or more active models that can answer this conversation and have spare capacity.

    The two refusals differ because what the visitor should do differs: when fewer than two models can
    answer the prompt at all (replay models know only their recorded prompts), trying again never helps
    and the answer is a 4xx saying what would; when the able ones are all at their concurrency limit,
    it is a 503 and a moment later one may be free.
    """
    active = list(ArenaModel.objects.filter(active=True))
    able = [model for model in active if backend_for(model.spec()).can_answer(messages)]
    if len(able) < 2:
        raise NoModelCanAnswer(_why_none_can_answer(active, able))
    busy = dict(
        Answer.objects.filter(state__in=[AnswerState.QUEUED, AnswerState.GENERATING], model__in=able)
        .values_list("model_id")
        .annotate(n=Count("id"))
    )
    free = [model for model in able if busy.get(model.pk, 0) < model.max_concurrency]
    if len(free) < 2:
        raise NoModelsAvailable(
            "The models that can answer this prompt are all busy with other battles right now. "
            "Send it again in a minute."
        )
    return free


# --- battles and turns ------------------------------------------------------


def conversation(answers: list[Answer], side: int, *, before_turn: int | None = None) -> list[dict]:
    """One side's messages: each turn's prompt and that side's answer, oldest first."""
    messages: list[dict] = []
    for answer in sorted((a for a in answers if a.side == side), key=lambda a: a.turn):
        if before_turn is not None and answer.turn >= before_turn:
            break
        messages.append({"role": "user", "content": answer.prompt})
        messages.append({"role": "assistant", "content": answer.text})
    return messages


def _answers_create(battle: Battle, turn: int, prompt: str) -> list[Answer]:
    now = timezone.now()
    grace = timedelta(seconds=settings.AGORA_ARENA_DEADLINE_GRACE_S)
    answers = [
        Answer(
            battle=battle,
            turn=turn,
            side=side,
            model=model,
            prompt=prompt,
            deadline=now + timedelta(seconds=model.timeout_s) + grace,
            heartbeat_at=now,  # sent to the queue now: the reaper sends it again if nobody claims it
        )
        for side, model in enumerate((battle.model_a, battle.model_b))
    ]
    Answer.objects.bulk_create(answers)
    transaction.on_commit(lambda: answers_enqueue(answers=answers))
    return answers


def answers_enqueue(*, answers: list[Answer]) -> None:
    """Send each answer to its workers' queue. A failure is logged, never raised: this runs after the
    battle's commit, and an answer nobody claims is sent again by the reaper (arena/heartbeat.py)."""
    from arena.tasks import generate_answer  # a cycle: arena.tasks imports arena.generation, which imports this module

    for answer in answers:
        # A model served by a GPU host's own worker names that worker's queue.
        options = {"queue": answer.model.queue} if answer.model.queue else {}
        try:
            generate_answer.apply_async(args=[answer.pk], **options)
        except Exception:  # the broker is down or refuses: kombu, redis and socket errors alike
            logging.getLogger(__name__).exception("answer %s: could not send it to the queue", answer.pk)


def battle_create(
    *, prompt: str, judge: str, user=None, client_ip: str | None = None, rng: random.Random | None = None
) -> Battle:
    text = prompt_check(prompt)
    rate_check(judge=judge, client_ip=client_ip)
    models = eligible_models([{"role": "user", "content": text}])
    rng = rng or random.SystemRandom()
    first, second = sampling_policy().pick(models, rng)
    if rng.random() < 0.5:  # the side shown on the left is a coin flip, whatever the policy
        first, second = second, first
    with transaction.atomic():
        signed_in = user if user is not None and user.is_authenticated else None
        battle = Battle.objects.create(voter=judge, user=signed_in, model_a=first, model_b=second)
        _answers_create(battle, 0, text)
    return battle


def sides_can_continue(battle: Battle, answers: list[Answer], prompt: str) -> bool:
    """Whether both models can take this next turn (a replay model answers only a first prompt)."""
    return all(
        backend_for(battle.model_at(side).spec()).can_answer(
            conversation(answers, side) + [{"role": "user", "content": prompt}]
        )
        for side in (0, 1)
    )


def _locked_battle(battle_id: int, judge: str) -> Battle:
    # of=self: lock the battle row only. Locking the joined model rows too would block (and
    # deadlock with) every new battle, whose inserts take a key-share lock on the same models.
    battle = Battle.objects.select_for_update(of=("self",)).select_related("model_a", "model_b").get(pk=battle_id)
    if battle.voter != judge:
        raise NotYours()
    return battle


def _refuse_unless_ready(battle: Battle, action: str) -> None:
    if battle.state == BattleState.GENERATING:
        raise VoteRefused(f"Wait until both answers are complete before you {action}.")
    if battle.state == BattleState.FAILED:
        raise VoteRefused("This battle failed, so it cannot go on or be voted on. Start a new battle.")
    if battle.state == BattleState.VOTED:
        raise VoteRefused("You already voted on this battle. Start a new battle to go on.")


def turn_add(*, battle: Battle, prompt: str, judge: str, client_ip: str | None = None) -> list[Answer]:
    text = prompt_check(prompt)
    with transaction.atomic():
        battle = _locked_battle(battle.pk, judge)
        _refuse_unless_ready(battle, "ask a follow-up")
        answers = list(battle.answers.all())
        turn = max(a.turn for a in answers) + 1
        if turn >= settings.AGORA_ARENA_MAX_TURNS:
            raise ArenaError(
                f"A battle has at most {settings.AGORA_ARENA_MAX_TURNS} turns. Vote now, or start a new battle."
            )
        if not sides_can_continue(battle, answers, text):
            raise ArenaError(
                "These models can only answer the prompts they have recorded, so this battle cannot go on. "
                "Vote on it, or start a new battle."
            )
        rate_check(judge=judge, client_ip=client_ip)
        battle.state = BattleState.GENERATING
        battle.ready_at = None
        battle.save(update_fields=["state", "ready_at"])
        # Open sockets learn that the battle generates again, so one that goes quiet is resynced
        # (arena/consumers.py) as in the first turn. Registered before the answers are queued: the
        # event leaves first, and a fast answer's "ready" cannot arrive before it.
        transaction.on_commit(lambda: _publish_state(battle.group_name, BattleState.GENERATING), robust=True)
        return _answers_create(battle, turn, text)


def _publish_state(group: str, state: str) -> None:
    async_to_sync(get_channel_layer().group_send)(group, {"type": "arena.state", "state": state, "message": ""})


# --- the vote ---------------------------------------------------------------


@dataclass(frozen=True)
class Vote:
    choice: str  # a, b, tie or both_bad
    strength: int | None = None  # -3..3, negative favours A
    score_a: int | None = None  # 1..7
    score_b: int | None = None
    rationale: str = ""

    def check(self) -> Vote:
        if self.choice not in VOTE_CHOICES:
            raise ArenaError("Choose A, B, tie or both bad.")
        if self.strength is not None:
            if not -3 <= self.strength <= 3:
                raise ArenaError("The strength goes from -3 (A much better) to +3 (B much better).")
            agrees = {"a": self.strength < 0, "b": self.strength > 0}.get(self.choice, self.strength == 0)
            if not agrees:
                raise ArenaError(
                    f"Your strength ({self.strength:+d}) does not match your vote for "
                    f"{ {'a': 'A', 'b': 'B', 'tie': 'a tie', 'both_bad': 'both bad'}[self.choice] }. "
                    "Pick a strength on the same side, or none."
                )
        for score in (self.score_a, self.score_b):
            if score is not None and not 1 <= score <= 7:
                raise ArenaError("Scores go from 1 to 7.")
        if len(self.rationale) > settings.AGORA_ARENA_MAX_RATIONALE_CHARS:
            raise ArenaError(f"Keep the reason under {settings.AGORA_ARENA_MAX_RATIONALE_CHARS:,} characters.")
        return self


def _same_vote(judgment: Judgment, vote: Vote) -> bool:
    scores = {(s.position, s.attribute): s.value for s in judgment.scores.all()}
    return (
        judgment.outcome == ("tie" if vote.choice == "both_bad" else vote.choice)
        and judgment.both_bad == (vote.choice == "both_bad")
        and judgment.strength == vote.strength
        and judgment.rationale == vote.rationale
        and scores.get((0, SCORE_ATTRIBUTE)) == vote.score_a
        and scores.get((1, SCORE_ATTRIBUTE)) == vote.score_b
    )


def _comparison_create(battle: Battle, answers: list[Answer], now) -> Comparison:
    last = max(a.turn for a in answers)
    sides = [conversation(answers, side) for side in (0, 1)]
    context = sides[0][:-1]
    comparison = Comparison.objects.create(
        key=f"arena:{battle.public_id}",
        context=context,
        prompt=context[-1]["content"],
        source=Source.ARENA,
        metadata={"battle": battle.public_id, "turns": last + 1},
        created_at=now,
    )
    finals = {a.side: a for a in answers if a.turn == last}
    Candidate.objects.bulk_create(
        Candidate(
            comparison=comparison,
            position=side,
            model=battle.model_at(side).name,
            text=finals[side].text,
            # Multi-turn: each side saw its own earlier answers, so side B's history differs from the context.
            conversation=sides[side] if sides[side][:-1] != context else None,
            output_tokens=finals[side].output_tokens,
            latency_ms=finals[side].duration_ms,
            finish_reason=finals[side].finish_reason,
            metadata={"first_token_ms": finals[side].first_token_ms},
            **style_fields(finals[side].text, finals[side].output_tokens),
        )
        for side in (0, 1)
    )
    return comparison


def _identity(model: ArenaModel) -> integrity.Identity:
    return integrity.Identity(name=model.name, model_id=model.model_id, organization=model.organization)


def _integrity_evidence(battle: Battle, answers: list[Answer], registry: list[integrity.Identity]) -> dict:
    """Per side that gave its model away, the evidence from every turn's answer (the voter read them all)."""
    found: dict[int, list[dict]] = {}
    for answer in sorted(answers, key=lambda a: (a.turn, a.side)):
        prompts = [a.prompt for a in answers if a.side == answer.side and a.turn <= answer.turn]
        model = _identity(battle.model_at(answer.side))
        for evidence in integrity.answer_reveals(answer.text, model, prompts=prompts, registry=registry):
            found.setdefault(answer.side, []).append({"turn": answer.turn, **evidence.as_dict()})
    return found


def _integrity_flags_create(judgment: Judgment, battle: Battle, answers: list[Answer], registry, now) -> None:
    # Kept with the judgment, never instead of it: the vote stays in the data, and the boards that keep
    # integrity (ratings.boards.Board.integrity) leave it out until staff clear the flag.
    IntegrityFlag.objects.bulk_create(
        IntegrityFlag(
            judgment=judgment,
            position=side,
            model=battle.model_at(side).name,
            kind=FlagKind.SELF_IDENTIFICATION,
            evidence={"battle": battle.public_id, "matches": matches[: integrity.MAX_EVIDENCE]},
            created_at=now,
        )
        for side, matches in sorted(_integrity_evidence(battle, answers, registry).items())
    )


def _vote_metadata(battle: Battle, client_ip: str | None) -> dict:
    metadata = {"battle": battle.public_id}
    address = address_pseudonym(client_ip)
    if address:
        metadata["address"] = address  # for the judges' review: keys per address (ratings/judge_review.py)
    return metadata


def vote_record(
    *, battle: Battle, judge: str, user=None, vote: Vote, client_ip: str | None = None
) -> tuple[Judgment, bool]:
    """Store the vote once. Returns (judgment, created); a retry of the same vote returns the first."""
    vote = vote.check()
    # A retry of a vote already stored (a lost reply, a double click) answers as the first did and
    # is not counted against the vote limit, which would otherwise refuse the visitor their own vote.
    stored = Battle.objects.select_related("judgment").filter(pk=battle.pk, voter=judge).first()
    if stored is not None and stored.state == BattleState.VOTED and stored.judgment_id:
        if _same_vote(stored.judgment, vote):
            return stored.judgment, False
    if not rate_limits.vote_rate_check(judge=judge, client_ip=client_ip):
        raise RateLimited("Too many votes in the last minute. Wait a moment and try again.")
    # Every arena vote passes here, once, when all its answers are final: the one place to check them
    # (answers settle turn by turn and in several places; only the vote has the judgment a flag names).
    registry = [_identity(m) for m in ArenaModel.objects.only("name", "model_id", "organization")]
    with transaction.atomic():
        battle = _locked_battle(battle.pk, judge)
        if battle.state == BattleState.VOTED and battle.judgment_id:
            if _same_vote(battle.judgment, vote):
                return battle.judgment, False
            raise VoteRefused("You already voted on this battle; your first vote stands.")
        _refuse_unless_ready(battle, "vote")
        now = timezone.now()
        answers = list(battle.answers.all())
        comparison = _comparison_create(battle, answers, now)
        judgment = Judgment.objects.create(
            comparison=comparison,
            source=Source.ARENA,
            judge_kind=JudgeKind.USER if judge.startswith("user:") else JudgeKind.VOTER,
            judge=judge,
            user=user if user is not None and user.is_authenticated else None,
            display_order=[0, 1],
            outcome=Outcome.TIE if vote.choice == "both_bad" else vote.choice,
            strength=vote.strength,
            both_bad=vote.choice == "both_bad",
            rationale=vote.rationale,
            time_spent_ms=int((now - battle.ready_at).total_seconds() * 1000) if battle.ready_at else None,
            metadata=_vote_metadata(battle, client_ip),
            created_at=now,
        )
        Score.objects.bulk_create(
            Score(judgment=judgment, position=side, attribute=SCORE_ATTRIBUTE, value=value)
            for side, value in ((0, vote.score_a), (1, vote.score_b))
            if value is not None
        )
        _integrity_flags_create(judgment, battle, answers, registry, now)
        live.votes_arrived()
        battle.state = BattleState.VOTED
        battle.judgment = judgment
        battle.voted_at = now
        battle.save(update_fields=["state", "judgment", "voted_at"])
    return judgment, True
