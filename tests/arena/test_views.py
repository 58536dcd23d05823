"""Arena pages for each persona: status codes, messages, and what the HTML may and may not say."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from arena.models import Battle, BattleState
from tests.arena.conftest import MODEL_IDS, MODEL_NAMES
from tests.arena.test_battles import finish_turn

HTMX = {"HTTP_HX_REQUEST": "true"}


def no_model_identity(response) -> bool:
    text = (response.content.decode() + repr(dict(response.headers))).lower()
    return not any(word.lower() in text for word in MODEL_NAMES + MODEL_IDS)


def start_battle(client: Client, prompt: str = "Tell me a joke.") -> Battle:
    client.get("/arena/")  # the voter cookie
    response = client.post("/arena/", {"prompt": prompt})
    assert response.status_code == 302, response.content.decode()
    public_id = re.fullmatch(r"/arena/b/([^/]+)/", response["Location"]).group(1)
    return Battle.objects.get(public_id=public_id)


@pytest.fixture
def visitor():
    return Client()


def test_the_arena_page_offers_the_recorded_prompts_when_replay_models_serve(db, visitor):
    from arena.registry import replay_models_register

    replay_models_register()
    page = visitor.get("/arena/").content.decode()
    assert page.count('class="suggestion"') == 13
    assert "Argue for and against the use of kubernetes" in page
    assert "Airoboros" not in page  # the models stay anonymous even here
    # With only replay models, the recorded prompts come first and the page says why.
    assert "Start with one of the 13 recorded prompts" in page
    assert page.index('class="suggestion"') < page.index('id="id_prompt"')
    assert "python manage.py add_model" in page


def test_with_models_that_answer_anything_the_own_prompt_leads(two_models, visitor):
    from arena.registry import replay_models_register

    replay_models_register()
    page = visitor.get("/arena/").content.decode()
    assert page.index('id="id_prompt"') < page.index('class="suggestion"')
    assert "recorded prompts" not in page and "Or pick a prompt the models know" in page


def test_a_prompt_no_model_knows_gets_a_4xx_that_says_why_and_what_to_do(db, visitor):
    from arena.registry import replay_models_register

    replay_models_register()
    response = visitor.post("/arena/", {"prompt": "Write a poem about my cat"})
    page = response.content.decode()
    assert response.status_code == 422
    error = re.search(r'<p class="error" role="alert" id="prompt-error">(.*?)</p>', page, re.DOTALL).group(1)
    assert "answer only the recorded prompts" in error
    assert "python manage.py add_model" in error and "--backend openai --endpoint" in error
    assert "try again" not in error.lower()
    assert "Write a poem about my cat" in page  # the visitor's text is kept in the box
    assert page.count('class="suggestion"') == 13  # and the way in is right there
    assert not Battle.objects.exists()


@pytest.mark.parametrize(
    ("prompt", "status", "message"),
    [
        ("", 400, "Type a prompt first."),
        ("y" * 9000, 400, "9,000 characters long; the limit is 8,000"),
        ("before\x00after", 400, "Null characters are not allowed."),
    ],
)
def test_a_bad_prompt_gets_its_message_and_starts_nothing(two_models, visitor, prompt, status, message):
    response = visitor.post("/arena/", {"prompt": prompt})
    assert response.status_code == status
    assert message in response.content.decode()
    assert not Battle.objects.exists()


def test_with_no_models_the_visitor_is_told_so(db, visitor):
    response = visitor.post("/arena/", {"prompt": "Hi"})
    assert response.status_code == 422
    assert "No models are registered yet" in response.content.decode()


def test_the_battle_page_never_names_the_models_before_the_vote(two_models, visitor):
    battle = start_battle(visitor)
    page = visitor.get(f"/arena/b/{battle.public_id}/")
    assert page.status_code == 200 and no_model_identity(page)
    assert "Model A" in page.content.decode() and 'id="vote-fieldset" disabled' in page.content.decode()
    finish_turn(battle)
    page = visitor.get(f"/arena/b/{battle.public_id}/")
    assert no_model_identity(page) and 'id="vote-fieldset" disabled' not in page.content.decode()
    reveal = visitor.post(f"/arena/b/{battle.public_id}/vote", {"choice": "a", "strength": "-3"}, **HTMX)
    assert reveal.status_code == 200 and not no_model_identity(reveal)  # now they are revealed
    assert battle.model_a.name in reveal.content.decode()


def test_another_visitor_gets_404_for_every_battle_url(two_models, visitor):
    battle = start_battle(visitor)
    finish_turn(battle)
    stranger = Client()
    assert stranger.get(f"/arena/b/{battle.public_id}/").status_code == 404
    assert stranger.post(f"/arena/b/{battle.public_id}/vote", {"choice": "a"}, **HTMX).status_code == 404
    assert stranger.post(f"/arena/b/{battle.public_id}/turns", {"prompt": "x"}, **HTMX).status_code == 404
    battle.refresh_from_db()
    assert battle.state == BattleState.READY


def test_vote_responses_say_what_went_wrong(two_models, visitor):
    battle = start_battle(visitor)
    url = f"/arena/b/{battle.public_id}/vote"
    early = visitor.post(url, {"choice": "a"}, **HTMX)
    assert early.status_code == 409 and "Wait until both answers are complete" in early.content.decode()
    assert no_model_identity(early)
    finish_turn(battle)
    bad = visitor.post(url, {"choice": "a", "strength": "2"}, **HTMX)
    assert bad.status_code == 400 and "does not match your vote for A" in bad.content.decode()
    assert no_model_identity(bad)
    malformed = visitor.post(url, {"choice": "a", "score_a": "eleven"}, **HTMX)
    assert malformed.status_code == 400 and "Select a valid choice" in malformed.content.decode()
    ok = visitor.post(url, {"choice": "b", "strength": "1", "score_b": "7", "rationale": "tighter"}, **HTMX)
    assert ok.status_code == 200 and "Thanks for voting" in ok.content.decode()
    retry = visitor.post(url, {"choice": "b", "strength": "1", "score_b": "7", "rationale": "tighter"}, **HTMX)
    assert retry.status_code == 200
    other = visitor.post(url, {"choice": "a"}, **HTMX)
    assert other.status_code == 409 and "your first vote stands" in other.content.decode()
    assert visitor.get(url).status_code == 405
    battle.refresh_from_db()
    assert battle.judgment.strength == 1 and battle.judgment.rationale == "tighter"


def test_a_follow_up_returns_the_new_turn_and_a_refusal_is_shown_in_place(two_models, visitor):
    battle = start_battle(visitor)
    url = f"/arena/b/{battle.public_id}/turns"
    early = visitor.post(url, {"prompt": "and?"}, **HTMX)
    assert early.status_code == 409 and early["HX-Retarget"] == "#followup-error"
    finish_turn(battle)
    response = visitor.post(url, {"prompt": "and <b>then</b>?"}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and 'id="answer-1-0"' in body and 'id="answer-1-1"' in body
    assert "&lt;b&gt;then&lt;/b&gt;" in body and "<b>then</b>" not in body
    assert no_model_identity(response)


def test_a_post_without_a_prompt_field_is_told_to_type_one(two_models, visitor):
    response = visitor.post("/arena/", {})
    assert response.status_code == 400 and "Type a prompt first." in response.content.decode()
    assert not Battle.objects.exists()


def test_a_refused_follow_up_replaces_the_one_error_paragraph_with_its_message(two_models, visitor):
    battle = start_battle(visitor)
    finish_turn(battle)
    url = f"/arena/b/{battle.public_id}/turns"
    for prompt, message in [
        ("and\x00then?", "Null characters are not allowed."),
        ("z" * 8001, "8,001 characters long; the limit is 8,000"),
    ]:
        response = visitor.post(url, {"prompt": prompt}, **HTMX)
        body = response.content.decode()
        assert response.status_code == 400 and message in body
        # Swapped as a whole over the paragraph that is there, so the page keeps one element with that id.
        assert response["HX-Retarget"] == "#followup-error" and response["HX-Reswap"] == "outerHTML"
        assert body.count('id="followup-error"') == 1
    page = visitor.get(f"/arena/b/{battle.public_id}/").content.decode()
    assert page.count('id="followup-error"') == 1
    battle.refresh_from_db()
    assert battle.state == BattleState.READY and battle.answers.count() == 2


def test_the_follow_up_box_is_offered_only_while_both_models_can_continue(two_models, visitor, settings):
    battle = start_battle(visitor)
    page_url = f"/arena/b/{battle.public_id}/"
    assert 'id="followup-form"' in visitor.get(page_url).content.decode()  # offered, disabled until ready
    finish_turn(battle)
    assert 'id="followup-form"' in visitor.get(page_url).content.decode()
    settings.AGORA_ARENA_MAX_TURNS = 1
    assert 'id="followup-form"' not in visitor.get(page_url).content.decode()  # no turn left
    settings.AGORA_ARENA_MAX_TURNS = 8
    reveal = visitor.post(f"{page_url}vote", {"choice": "a"}, **HTMX).content.decode()
    # The reveal removes the box on the page it swaps into; a reload does not render it.
    assert '<div id="followup-form" hx-swap-oob="delete"></div>' in reveal
    assert 'id="followup-form"' not in visitor.get(page_url).content.decode()
    refused = visitor.post(f"{page_url}vote", {"choice": "b"}, **HTMX)
    assert refused.status_code == 409 and 'hx-swap-oob="delete"' in refused.content.decode()


def test_a_failed_battle_offers_no_follow_up(two_models, visitor):
    battle = start_battle(visitor)
    Battle.objects.filter(pk=battle.pk).update(state=BattleState.FAILED, error="A model failed.")
    page = visitor.get(f"/arena/b/{battle.public_id}/").content.decode()
    assert 'id="followup-form"' not in page and "A model failed." in page


def test_a_replay_battle_offers_no_follow_up(db, visitor):
    from arena.registry import replay_models_register
    from workers.backends.replay import known_prompts

    replay_models_register()
    battle = start_battle(visitor, known_prompts()[0]["text"])
    finish_turn(battle)
    page = visitor.get(f"/arena/b/{battle.public_id}/").content.decode()
    assert 'id="vote-form"' in page and 'id="followup-form"' not in page


def test_an_empty_answer_is_labelled_on_reload_and_the_vote_stays_open(two_models, visitor):
    battle = start_battle(visitor)
    finish_turn(battle, texts=("", "Answer B"))
    page = visitor.get(f"/arena/b/{battle.public_id}/").content.decode()
    pane = re.search(r'id="answer-0-0".*?</article>', page, re.DOTALL).group(0)
    assert "This model returned an empty answer." in pane
    assert "empty answer" not in re.search(r'id="answer-0-1".*?</article>', page, re.DOTALL).group(0)
    assert 'id="vote-fieldset" disabled' not in page
    vote = visitor.post(f"/arena/b/{battle.public_id}/vote", {"choice": "b"}, **HTMX)
    assert vote.status_code == 200 and "Thanks for voting" in vote.content.decode()


def test_an_over_long_rationale_is_refused_at_the_form(two_models, visitor, settings):
    settings.AGORA_ARENA_MAX_RATIONALE_CHARS = 50
    battle = start_battle(visitor)
    finish_turn(battle)
    page = visitor.get(f"/arena/b/{battle.public_id}/").content.decode()
    assert 'name="rationale" rows="3" maxlength="50"' in page
    url = f"/arena/b/{battle.public_id}/vote"
    response = visitor.post(url, {"choice": "a", "rationale": "r" * 51}, **HTMX)
    assert response.status_code == 400
    assert "That reason is 51 characters long; the limit is 50." in response.content.decode()
    nul = visitor.post(url, {"choice": "a", "rationale": "r\x00"}, **HTMX)
    assert nul.status_code == 400 and "Null characters are not allowed." in nul.content.decode()
    battle.refresh_from_db()
    assert battle.state == BattleState.READY and battle.judgment_id is None
