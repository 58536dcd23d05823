"""Vote integrity: an answer that names its own model is found, its vote kept but left off the boards
until staff clear it by hand."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import User
from django.test import Client

from annotation.models import FlagKind, IntegrityFlag, Judgment
from arena import services
from arena.integrity import Identity, answer_reveals, distinctive, identity_terms
from arena.models import Battle
from arena.services import Vote
from ratings import services as ratings_services
from ratings.boards import Board
from ratings.models import RatingRun, RunState
from tests.arena.conftest import register_openai
from tests.arena.test_battles import finish_turn

# Registry entries as the replay models and a current hosted API name them.
CLAUDE_2 = Identity("Claude v2", "anthropic/claude-2", "Anthropic")
CLAUDE_3 = Identity("claude-3-opus", "claude-3-opus-20240229", "Anthropic")
GPT_35 = Identity("GPT 3.5 Turbo", "gpt-3.5-turbo", "OpenAI")
GPT_4 = Identity("GPT 4", "gpt-4", "OpenAI")
LLAMA_13B = Identity("LLaMA-2-Chat (13B)", "togethercomputer/llama-2-13b-chat", "Meta")
LLAMA_70B = Identity("LLaMA-2-Chat (70B)", "togethercomputer/llama-2-70b-chat", "Meta")
CODE_LLAMA = Identity("Code Llama Instruct (13B)", "togethercomputer/CodeLlama-13b-Instruct", "Meta")
COMMAND = Identity("command", "command", "Cohere")
PALM = Identity("PaLM 2 Bison", "google/palm-2-chat-bison", "Google")
VICUNA = Identity("Vicuna v1.3 (13B)", "lmsys/vicuna-13b-v1.3", "LM Sys")
FALCON = Identity("Falcon Instruct (7B)", "togethercomputer/falcon-7b-instruct", "TII UAE")
REGISTRY = [CLAUDE_2, CLAUDE_3, GPT_35, GPT_4, LLAMA_13B, LLAMA_70B, CODE_LLAMA, COMMAND, PALM, VICUNA, FALCON]


def reveals(text: str, model: Identity, prompt: str = "Hello") -> list[tuple[str, str]]:
    return [(e.rule, e.term) for e in answer_reveals(text, model, prompts=[prompt], registry=REGISTRY)]


# --- detection ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "answer", "expected"),
    [
        (
            CLAUDE_2,
            "I'm Claude, an AI assistant created by Anthropic to be helpful, harmless, and honest.",
            [("self-introduction", "claude"), ("made-by", "anthropic")],
        ),
        # ChatGPT is no name in the registry; the organization after "trained by" gives it away.
        (GPT_35, "I am ChatGPT, a large language model trained by OpenAI. How can I help?", [("made-by", "openai")]),
        (GPT_4, "As an AI language model developed by OpenAI, I don't have opinions.", [("made-by", "openai")]),
        (GPT_4, "As GPT-4, I can only say what I was trained on.", [("as-x", "gpt 4")]),
        (GPT_35, "I'm an OpenAI model, so I can't browse the web.", [("self-introduction", "openai")]),
        # Meta is an everyday word, so only a phrase makes it evidence.
        (LLAMA_13B, "I'm just an AI, I don't have feelings. I was trained by Meta AI.", [("made-by", "meta")]),
        (LLAMA_13B, "Hello! My name is LLaMA, nice to meet you.", [("self-introduction", "llama")]),
        # "command" is an everyday word: it counts in a phrase, never bare.
        (
            COMMAND,
            "I am Command, a large language model built by Cohere.",
            [("self-introduction", "command"), ("made-by", "cohere")],
        ),
        (CLAUDE_2, "Anthropic created me to be helpful.", [("made-by", "anthropic")]),
        (CLAUDE_2, "My developers at Anthropic would not want me to guess.", [("made-by", "anthropic")]),
        # Bare mentions of a distinctive name or organization, in any spelling.
        (GPT_4, "Sure. (Written by GPT4.)", [("name", "gpt 4")]),
        (GPT_4, "gpt_4 here", [("name", "gpt 4")]),
        (CLAUDE_2, "Claude-2 thinks the answer is 42.", [("name", "claude v2")]),
        (VICUNA, "Vicuna is happy to help with your essay.", [("name", "vicuna")]),
        # The name without its version suffix: "claude" for claude-3-opus.
        (CLAUDE_3, "Claude here! The capital of France is Paris.", [("name", "claude")]),
        (PALM, "PaLM 2 can answer that: 12.", [("name", "palm 2")]),
        (FALCON, "I'm Falcon, a model from TII.", [("self-introduction", "falcon")]),
        # A sibling's name still gives the family away.
        (LLAMA_13B, "I am LLaMA-2-Chat-70B.", [("self-introduction", "llama 2 chat")]),
    ],
)
def test_an_answer_that_names_its_own_model_is_found_with_its_evidence(model, answer, expected):
    assert reveals(answer, model) == expected


@pytest.mark.parametrize(
    ("model", "answer", "prompt"),
    [
        (COMMAND, "Run this command in your terminal: ls -la", "How do I list files?"),
        (PALM, "You can Google it, or look on Google Maps. Palm trees grow in warm places.", "Where do palms grow?"),
        (PALM, "I think Go was created by Google in 2009.", "Who made Go?"),
        (PALM, "I recommend Angular, which was developed by Google.", "Which framework?"),
        (PALM, "As a framework developed by Google, Angular is popular.", "Which framework?"),
        (PALM, "Companies such as Google, Meta and Amazon build data centres.", "Who builds data centres?"),
        (FALCON, "The peregrine falcon is the fastest bird.", "Fastest bird?"),
        (GPT_4, "Sure! Here is a poem:\n\nI am the wind, I am the sea.", "Write a poem"),
        # Another model's name is not self-identification, nor is a name inside another model's name.
        (GPT_4, "Claude is developed by Anthropic and is good at long documents.", "Which model for long texts?"),
        (LLAMA_13B, "Code Llama is a model for code; it is great for Python.", "Best model for code?"),
        # The prompt named it: repeating it reveals nothing, nor does naming the organization of a model
        # the visitor asked about.
        (
            CLAUDE_2,
            "GPT-4 is made by OpenAI, while Claude is developed by Anthropic.",
            "Compare GPT-4 and Claude",
        ),
        (GPT_4, "GPT-4 is a large model; its context is 8k tokens.", "How big is GPT-4?"),
        (LLAMA_13B, "Llamas are camelids. A llama can carry a quarter of its weight.", "Tell me about llamas"),
    ],
)
def test_ordinary_answers_are_not_flagged(model, answer, prompt):
    assert reveals(answer, model, prompt) == []


def test_a_phrase_counts_even_when_the_prompt_named_the_model_and_says_so():
    # "Are you Claude?" → "Yes, I am Claude" tells the voter which side is Claude.
    [evidence] = answer_reveals("Yes, I am Claude.", CLAUDE_2, prompts=["Are you Claude?"], registry=REGISTRY)
    assert (evidence.rule, evidence.term, evidence.prompted) == ("self-introduction", "claude", True)
    assert evidence.excerpt == "Yes, I am Claude." and evidence.start == len("Yes, I am ")


def test_distinctive_names_count_bare_and_everyday_words_only_in_phrases():
    terms = {t.text: t.bare for t in identity_terms(COMMAND)}
    assert terms == {"command": False, "cohere": False}
    terms = {t.text: t.bare for t in identity_terms(CLAUDE_3)}
    assert terms["claude 3 opus"] and terms["claude 3"] and terms["claude"] and terms["anthropic"]
    terms = {t.text: t.bare for t in identity_terms(FALCON)}
    assert terms["falcon 7b"] and not terms["falcon"] and not terms["falcon instruct"]
    assert distinctive([("open", "ai")]) and not distinctive([("google",)]) and not distinctive([("j2",)])


# --- through the vote ------------------------------------------------------------------------------

QUOKKA = ("Quokka Instruct 13B", "quokka-13b-instruct", "Quokka Labs")
NARWHAL = ("Narwhal Chat 70B", "narwhal-70b-chat", "Narwhal Research")


@pytest.fixture
def models(db, fake_openai, settings):
    settings.AGORA_ARENA_VOTES_PER_MINUTE = 0
    return [register_openai(n, i, fake_openai.url, organization=o) for n, i, o in (QUOKKA, NARWHAL)]


def battle_voted(texts_by_model: dict[str, str], choice: str, prompt: str = "Tell me a joke.") -> Judgment:
    judge = f"voter:{uuid.uuid4().hex}"
    battle = services.battle_create(prompt=prompt, judge=judge)
    finish_turn(battle, [texts_by_model[battle.model_at(side).name] for side in (0, 1)])
    judgment, created = services.vote_record(battle=battle, judge=judge, vote=Vote(choice=choice))
    assert created
    return judgment


def fit(**board) -> RatingRun:
    run = ratings_services.run_create(board=Board(ci="none", **board), trigger="manual", enqueue=False)
    run = ratings_services.run_execute(run.pk)
    assert run.state == RunState.DONE, run.error
    return run


def test_a_vote_on_a_self_naming_answer_is_kept_left_off_the_board_and_counts_once_cleared(models, client):
    clean = {QUOKKA[0]: "Why did the chicken cross the road?", NARWHAL[0]: "Knock knock."}
    battle_voted(clean, "a")
    battle_voted(clean, "b")
    revealing = {QUOKKA[0]: "I am Quokka, a joke bot made by Quokka Labs. Knock knock!", NARWHAL[0]: "Puns!"}
    flagged = battle_voted(revealing, "a")

    # The judgment is stored as any other; the flag beside it says which side and why.
    assert Judgment.objects.count() == 3
    [flag] = IntegrityFlag.objects.all()
    battle = Battle.objects.get(judgment=flagged)
    quokka_side = 0 if battle.model_a.name == QUOKKA[0] else 1
    assert (flag.judgment_id, flag.position, flag.model, flag.kind) == (
        flagged.pk,
        quokka_side,
        QUOKKA[0],
        FlagKind.SELF_IDENTIFICATION,
    )
    assert flag.evidence["battle"] == battle.public_id
    assert [(m["turn"], m["rule"], m["term"]) for m in flag.evidence["matches"]] == [
        (0, "self-introduction", "quokka"),
        (0, "made-by", "quokka labs"),
    ]
    assert "I am Quokka" in flag.evidence["matches"][0]["excerpt"]
    assert flag.cleared_at is None

    # The default board leaves it out and says so; the board with integrity off counts it.
    default = fit()
    assert (default.judgments, default.integrity_left_out) == (2, 1)
    everything = fit(integrity=False)
    assert (everything.judgments, everything.integrity_left_out) == (3, None)
    assert everything.board.endswith("integrity=off") and "integrity" not in default.board

    # Staff see the flagged list with its evidence, and clear it with the admin action.
    staff = User.objects.create_superuser("integrity-staff", password="pw-staff-123")
    client.force_login(staff)
    listing = client.get("/admin/annotation/integrityflag/", {"cleared": "no"})
    assert listing.status_code == 200
    page = listing.content.decode()
    assert battle.public_id in page and "I am Quokka" in page and QUOKKA[0] in page
    cleared = client.post(
        "/admin/annotation/integrityflag/",
        {"action": "clear", "index": "0", "_selected_action": [flag.pk]},
        follow=True,
    )
    assert "Cleared 1 flag" in cleared.content.decode()
    flag.refresh_from_db()
    assert flag.cleared_by == staff and flag.cleared_at is not None

    # The next fit counts the vote again; the flag stays, as the record of the decision.
    again = fit()
    assert (again.judgments, again.integrity_left_out) == (3, 0)
    assert IntegrityFlag.objects.count() == 1


def test_only_staff_reach_the_flagged_list(models):
    user = User.objects.create_user("not-staff", password="pw-user-123")
    client = Client()
    assert client.get("/admin/annotation/integrityflag/").status_code == 302
    client.force_login(user)
    response = client.get("/admin/annotation/integrityflag/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_a_reveal_in_an_earlier_turn_flags_the_vote(models):
    judge = f"voter:{uuid.uuid4().hex}"
    battle = services.battle_create(prompt="Who are you?", judge=judge)
    finish_turn(
        battle,
        ["I'm Narwhal, your assistant." if battle.model_at(s).name == NARWHAL[0] else "An assistant." for s in (0, 1)],
    )
    services.turn_add(battle=battle, prompt="Tell me a joke.", judge=judge)
    finish_turn(battle, ["Knock knock.", "Why did the chicken cross the road?"])
    judgment, _ = services.vote_record(battle=battle, judge=judge, vote=Vote(choice="tie"))
    [flag] = IntegrityFlag.objects.filter(judgment=judgment)
    assert flag.model == NARWHAL[0]
    assert [(m["turn"], m["rule"], m["term"]) for m in flag.evidence["matches"]] == [
        (0, "self-introduction", "narwhal")
    ]


def test_answers_that_name_no_model_of_theirs_leave_no_flag(models):
    # Each side names the *other* model: a comparison, not self-identification.
    battle_voted({QUOKKA[0]: "Narwhal Chat 70B is slower.", NARWHAL[0]: "Quokka Instruct 13B is smaller."}, "a")
    # The prompt named the model: the answer repeating it reveals nothing.
    battle_voted(
        {QUOKKA[0]: "Quokka Instruct 13B is a chat model.", NARWHAL[0]: "No idea."},
        "b",
        prompt="What is Quokka Instruct 13B?",
    )
    assert Judgment.objects.count() == 2 and not IntegrityFlag.objects.exists()
