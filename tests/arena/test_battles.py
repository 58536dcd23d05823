"""Battle rules in the services: sampling, limits, the vote and what it stores."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Candidate, Comparison, Judgment, Score
from arena import services
from arena.models import Answer, AnswerState, ArenaModel, Battle, BattleState
from arena.services import (
    ArenaError,
    NoModelCanAnswer,
    NoModelsAvailable,
    NotYours,
    RateLimited,
    Vote,
    VoteRefused,
)
from tests.arena.conftest import register_openai

JUDGE = "voter:visitor-1"


def finish_turn(battle: Battle, texts=("Answer **A**", "Answer B")) -> None:
    """Settle the latest turn as if both models answered (the generation tests do it for real)."""
    turn = battle.answers.order_by("-turn").values_list("turn", flat=True).first()
    for side, text in enumerate(texts):
        Answer.objects.filter(battle=battle, turn=turn, side=side).update(
            state=AnswerState.DONE,
            text=text,
            output_tokens=3,
            duration_ms=120,
            first_token_ms=10,
            finish_reason="stop",
        )
    Battle.objects.filter(pk=battle.pk).update(state=BattleState.READY, ready_at=timezone.now() - timedelta(seconds=4))
    battle.refresh_from_db()


def test_a_battle_gets_two_different_active_models_on_randomized_sides(two_models, fake_openai):
    register_openai("Sleeping Model", "sleepy", fake_openai.url, active=False)
    seen = set()
    for seed in range(15):  # under the models' concurrency limit of 16
        battle = services.battle_create(prompt="Hello?", judge=f"voter:{seed}", rng=random.Random(seed))
        assert battle.model_a != battle.model_b
        assert {battle.model_a.name, battle.model_b.name} == {m.name for m in two_models}
        seen.add(battle.model_a.name)
        answers = list(battle.answers.all())
        assert [(a.turn, a.side, a.state) for a in answers] == [(0, 0, "queued"), (0, 1, "queued")]
        assert [a.model for a in answers] == [battle.model_a, battle.model_b]
        assert all(a.deadline > timezone.now() + timedelta(seconds=9) for a in answers)
    assert len(seen) == 2  # each model was shown on the left at least once


def test_weights_steer_the_sampling_and_weight_zero_models_sit_out(db, fake_openai, settings):
    settings.AGORA_SAMPLING_POLICY = "arena.sampling.WeightedPolicy"  # the weighted draw, as Chatbot Arena's
    register_openai("Heavy", "h", fake_openai.url, weight=10)
    register_openai("Light 1", "l1", fake_openai.url, weight=1)
    register_openai("Light 2", "l2", fake_openai.url, weight=1)
    register_openai("Never", "n", fake_openai.url, weight=0)
    counts = dict.fromkeys(["Heavy", "Light 1", "Light 2", "Never"], 0)
    rng = random.Random(7)
    for _ in range(300):
        first, second = services.sampling_policy().pick(list(ArenaModel.objects.all()), rng)
        assert first != second
        counts[first.name] += 1
        counts[second.name] += 1
    assert counts["Never"] == 0
    # Heavy is in about 98% of pairs, each light one in about half (sampling without replacement).
    assert counts["Heavy"] > 270
    assert 100 < counts["Light 1"] < 200 and 100 < counts["Light 2"] < 200


def test_a_model_at_its_concurrency_limit_sits_out_new_battles(db, fake_openai):
    busy = register_openai("Busy", "b", fake_openai.url, max_concurrency=1)
    register_openai("Free 1", "f1", fake_openai.url, max_concurrency=100)
    register_openai("Free 2", "f2", fake_openai.url, max_concurrency=100)
    first = services.battle_create(prompt="one", judge=JUDGE, rng=random.Random(0))
    while busy not in (first.model_a, first.model_b):
        first = services.battle_create(prompt="again", judge=JUDGE, rng=random.Random())
    for seed in range(20):
        battle = services.battle_create(prompt="two", judge=JUDGE, rng=random.Random(seed))
        assert busy not in (battle.model_a, battle.model_b)


def test_fewer_than_two_models_is_a_refusal_that_says_how_to_add_one(db, fake_openai):
    with pytest.raises(NoModelCanAnswer, match="No models are registered yet") as none:
        services.battle_create(prompt="Hi", judge=JUDGE)
    register_openai("Alone", "a", fake_openai.url)
    with pytest.raises(NoModelCanAnswer, match="Only 1 of the 1 active models") as one:
        services.battle_create(prompt="Hi", judge=JUDGE)
    for refusal in (none.value, one.value):
        assert refusal.status == 422  # waiting would not help, so it is not a 503
        assert "python manage.py add_model" in refusal.message and "--backend openai --endpoint" in refusal.message
        assert "try again" not in refusal.message.lower()
    assert not Battle.objects.exists()


def test_when_the_able_models_are_all_busy_the_refusal_is_a_503_that_says_so(db, fake_openai):
    models = [register_openai(f"Busy {n}", f"b{n}", fake_openai.url, max_concurrency=1) for n in range(2)]
    services.battle_create(prompt="one", judge=JUDGE)  # takes each model's only slot
    with pytest.raises(NoModelsAvailable, match="all busy with other battles") as busy:
        services.battle_create(prompt="two", judge=JUDGE)
    assert busy.value.status == 503
    assert Battle.objects.count() == 1
    ArenaModel.objects.filter(pk=models[0].pk).update(max_concurrency=2)
    register_openai("Free", "f", fake_openai.url, max_concurrency=1)
    battle = services.battle_create(prompt="three", judge=JUDGE)
    assert {battle.model_a.name, battle.model_b.name} == {"Busy 0", "Free"}


def test_replay_models_only_battle_on_prompts_they_know(db):
    from arena.registry import replay_models_register
    from workers.backends.replay import known_prompts

    assert replay_models_register() == 59
    assert replay_models_register() == 0  # idempotent
    with pytest.raises(NoModelCanAnswer, match="answer only the recorded prompts") as unknown:
        services.battle_create(prompt="Write a poem about my cat", judge=JUDGE)
    assert "python manage.py add_model" in unknown.value.message
    assert not Battle.objects.exists()
    battle = services.battle_create(prompt=known_prompts()[0]["text"], judge=JUDGE)
    assert battle.model_a.backend == battle.model_b.backend == "replay"


@pytest.mark.parametrize(
    ("prompt", "message"),
    [("   ", "Type a prompt first."), ("x" * 8001, "8,001 characters long; the limit is 8,000")],
)
def test_empty_and_oversized_prompts_are_refused_with_a_message(two_models, prompt, message):
    with pytest.raises(ArenaError, match=message):
        services.battle_create(prompt=prompt, judge=JUDGE)
    assert not Battle.objects.exists()


def test_the_moderation_hook_refuses_prompts(two_models, settings):
    settings.AGORA_MODERATION_BLOCKLIST = ["forbiddenword"]
    with pytest.raises(ArenaError, match="content policy"):
        services.battle_create(prompt="Tell me about ForbiddenWord please", judge=JUDGE)
    assert services.battle_create(prompt="Tell me about allowed words", judge=JUDGE)


def test_a_visitor_over_the_rate_limit_is_told_to_wait(two_models, settings):
    settings.AGORA_ARENA_PROMPTS_PER_MINUTE = 2
    judge = f"voter:rate-{random.random()}"
    services.battle_create(prompt="1", judge=judge)
    services.battle_create(prompt="2", judge=judge)
    with pytest.raises(RateLimited, match="Too many prompts"):
        services.battle_create(prompt="3", judge=judge)
    services.battle_create(prompt="someone else", judge=f"voter:other-{random.random()}")
    assert Battle.objects.filter(voter=judge).count() == 2


def test_the_vote_stores_everything_the_visitor_entered(two_models):
    battle = services.battle_create(prompt="What is 2+2?", judge=JUDGE)
    finish_turn(battle)
    vote = Vote(choice="b", strength=2, score_a=3, score_b=6, rationale="B shows its work.")
    judgment, created = services.vote_record(battle=battle, judge=JUDGE, vote=vote)
    assert created
    judgment = Judgment.objects.get(pk=judgment.pk)
    assert (judgment.source, judgment.judge_kind, judgment.judge) == ("arena", "voter", JUDGE)
    assert (judgment.outcome, judgment.strength, judgment.both_bad) == ("b", 2, False)
    assert judgment.rationale == "B shows its work."
    assert judgment.display_order == [0, 1]
    assert 3500 <= judgment.time_spent_ms <= 60_000  # ready four seconds before the vote
    assert {(s.position, s.attribute, s.value) for s in Score.objects.filter(judgment=judgment)} == {
        (0, "overall", 3.0),
        (1, "overall", 6.0),
    }
    comparison = judgment.comparison
    assert comparison.key == f"arena:{battle.public_id}"
    assert comparison.context == [{"role": "user", "content": "What is 2+2?"}]
    assert comparison.source == "arena"
    candidates = list(Candidate.objects.filter(comparison=comparison))
    assert [(c.position, c.model, c.text, c.conversation) for c in candidates] == [
        (0, battle.model_a.name, "Answer **A**", None),
        (1, battle.model_b.name, "Answer B", None),
    ]
    battle.refresh_from_db()
    assert battle.state == BattleState.VOTED and battle.judgment == judgment


def test_both_bad_is_a_tie_with_the_flag(two_models):
    battle = services.battle_create(prompt="?", judge=JUDGE)
    finish_turn(battle)
    judgment, _ = services.vote_record(battle=battle, judge=JUDGE, vote=Vote(choice="both_bad"))
    assert (judgment.outcome, judgment.both_bad, judgment.strength) == ("tie", True, None)


def test_a_retried_vote_is_idempotent_and_a_different_second_vote_is_refused(two_models):
    battle = services.battle_create(prompt="?", judge=JUDGE)
    finish_turn(battle)
    vote = Vote(choice="a", strength=-1, rationale="shorter")
    first, created = services.vote_record(battle=battle, judge=JUDGE, vote=vote)
    again, created_again = services.vote_record(battle=battle, judge=JUDGE, vote=vote)
    assert created and not created_again and first.pk == again.pk
    with pytest.raises(VoteRefused, match="already voted"):
        services.vote_record(battle=battle, judge=JUDGE, vote=Vote(choice="b"))
    assert Judgment.objects.count() == 1 and Comparison.objects.count() == 1


def test_voting_waits_for_both_answers_and_a_failed_battle_cannot_be_voted(two_models):
    battle = services.battle_create(prompt="?", judge=JUDGE)
    with pytest.raises(VoteRefused, match="both answers are complete"):
        services.vote_record(battle=battle, judge=JUDGE, vote=Vote(choice="a"))
    Battle.objects.filter(pk=battle.pk).update(state=BattleState.FAILED)
    with pytest.raises(VoteRefused, match="failed"):
        services.vote_record(battle=battle, judge=JUDGE, vote=Vote(choice="a"))
    assert not Judgment.objects.exists()


@pytest.mark.parametrize(
    ("vote", "message"),
    [
        (Vote(choice="a", strength=2), r"strength \(\+2\) does not match your vote for A"),
        (Vote(choice="tie", strength=-1), "does not match your vote for a tie"),
        (Vote(choice="b", strength=5), "from -3"),
        (Vote(choice="maybe"), "Choose A, B, tie or both bad"),
        (Vote(choice="a", score_a=9), "Scores go from 1 to 7"),
        (Vote(choice="a", rationale="x" * 4001), "under 4,000 characters"),
    ],
)
def test_a_malformed_vote_gets_a_message_and_stores_nothing(two_models, vote, message):
    battle = services.battle_create(prompt="?", judge=JUDGE)
    finish_turn(battle)
    with pytest.raises(ArenaError, match=message):
        services.vote_record(battle=battle, judge=JUDGE, vote=vote)
    assert not Judgment.objects.exists()
    battle.refresh_from_db()
    assert battle.state == BattleState.READY


def test_only_the_visitor_who_started_a_battle_may_vote_or_go_on(two_models):
    battle = services.battle_create(prompt="?", judge=JUDGE)
    finish_turn(battle)
    with pytest.raises(NotYours):
        services.vote_record(battle=battle, judge="voter:someone-else", vote=Vote(choice="a"))
    with pytest.raises(NotYours):
        services.turn_add(battle=battle, prompt="more", judge="voter:someone-else")


def test_follow_up_turns_keep_each_sides_own_history(two_models):
    battle = services.battle_create(prompt="Name a colour.", judge=JUDGE)
    with pytest.raises(VoteRefused, match="Wait until both answers"):
        services.turn_add(battle=battle, prompt="too early", judge=JUDGE)
    finish_turn(battle, texts=("Red.", "Blue."))
    answers = services.turn_add(battle=battle, prompt="Why that one?", judge=JUDGE)
    assert [(a.turn, a.side, a.prompt) for a in answers] == [(1, 0, "Why that one?"), (1, 1, "Why that one?")]
    battle.refresh_from_db()
    assert battle.state == BattleState.GENERATING and battle.ready_at is None
    finish_turn(battle, texts=("Because roses.", "Because the sea."))
    judgment, _ = services.vote_record(battle=battle, judge=JUDGE, vote=Vote(choice="tie", strength=0))
    comparison = judgment.comparison
    assert comparison.context == [
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Red."},
        {"role": "user", "content": "Why that one?"},
    ]
    assert comparison.prompt == "Why that one?" and comparison.metadata["turns"] == 2
    a, b = Candidate.objects.filter(comparison=comparison).order_by("position")
    assert (a.text, a.conversation) == ("Because roses.", None)
    assert b.text == "Because the sea."
    assert b.conversation == [
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Why that one?"},
        {"role": "assistant", "content": "Because the sea."},
    ]


def test_the_turn_limit_is_enforced_with_a_message(two_models, settings):
    settings.AGORA_ARENA_MAX_TURNS = 2
    battle = services.battle_create(prompt="1", judge=JUDGE)
    finish_turn(battle)
    services.turn_add(battle=battle, prompt="2", judge=JUDGE)
    finish_turn(battle)
    with pytest.raises(ArenaError, match="at most 2 turns"):
        services.turn_add(battle=battle, prompt="3", judge=JUDGE)
    assert Answer.objects.filter(battle=battle).count() == 4


def test_replay_battles_cannot_take_follow_ups(db):
    from arena.registry import replay_models_register
    from workers.backends.replay import known_prompts

    replay_models_register()
    battle = services.battle_create(prompt=known_prompts()[0]["text"], judge=JUDGE)
    finish_turn(battle)
    with pytest.raises(ArenaError, match="only answer the prompts they have recorded"):
        services.turn_add(battle=battle, prompt="And then?", judge=JUDGE)
    battle.refresh_from_db()
    assert battle.state == BattleState.READY
