"""The arena in a real browser: headless Chromium, uvicorn, the Redis channel layer, a Celery worker
process and our OpenAI-compatible server on loopback.

Models are registered before Playwright starts: its sync API keeps an asyncio loop running in
this thread, and Django then refuses ORM calls (SynchronousOnlyOperation). So every test acts in
the browser first, keeps what it saw, closes the browser, and only then reads PostgreSQL.

A MutationObserver installed before any page script (``add_init_script``) writes each answer
pane's state and text, with the page's own clock, to ``window.__panes``: that is how a test sees
what a visitor saw while the answers were still streaming, not only the end result.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.db import connection
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Response, WebSocket, expect

from annotation.models import Comparison
from arena.generation import BATTLE_FAILED
from arena.models import Battle, BattleState
from arena.registry import replay_models_register
from tests.arena.conftest import MODEL_IDS, MODEL_NAMES, register_openai
from tests.conftest import running_worker
from tests.e2e.browser import TIMEOUT_MS, browser_context
from tests.fakes.openai_server import FakeOpenAI, FakeOpenAIServer

pytestmark = pytest.mark.browser

STREAM_TIMEOUT_MS = 60_000  # a whole slow answer, on a 2-core machine shared with the worker and the web server
SLOW_TOKENS = 24
FAST_TOKENS = 16

# Records every answer pane whenever the DOM changes. `tags` are the elements inside the pane's
# body (while streaming: only the .stream div), `active` counts what could run script anywhere
# in #turns, `pwned` is whatever a successful injection would have set.
PANE_RECORDER = """
(() => {
  window.__panes = [];
  const last = {};
  const ACTIVE = "script, img, iframe, object, embed, svg, math, form, base, meta, link, style";
  function record() {
    const turns = document.getElementById("turns");
    let active = 0;
    if (turns) {
      for (const el of turns.querySelectorAll("*")) {
        if (el.matches(ACTIVE)) active += 1;
        for (const attr of el.attributes) if (attr.name.toLowerCase().startsWith("on")) active += 1;
      }
    }
    for (const pane of document.querySelectorAll("article.answer")) {
      const body = pane.querySelector(".body");
      const text = body ? body.textContent : "";
      const state = pane.dataset.state;
      const seen = state + "\\u0000" + text;
      if (last[pane.id] === seen) continue;
      last[pane.id] = seen;
      window.__panes.push({
        id: pane.id, state, text, t: performance.now(), active, pwned: String(window.__pwned),
        tags: body ? [...body.querySelectorAll("*")].map((el) => el.tagName.toLowerCase()) : [],
      });
    }
  }
  new MutationObserver(record).observe(document, {subtree: true, childList: true, characterData: true,
                                                  attributes: true});
})();
"""


@dataclass
class Visit:
    page: Page
    dialogs: list[str] = field(default_factory=list)

    def panes(self) -> list[dict]:
        return self.page.evaluate("window.__panes")


@contextmanager
def browser_visit(base_url: str) -> Iterator[Visit]:
    with browser_context(base_url, TIMEOUT_MS) as context:
        context.add_init_script(PANE_RECORDER)
        visit = Visit(context.new_page())

        def on_dialog(dialog) -> None:
            visit.dialogs.append(dialog.message)
            dialog.dismiss()

        visit.page.on("dialog", on_dialog)
        yield visit


@pytest.fixture(scope="module")
def fast_openai():
    # 16 chunks at 40/s: 0.4 s an answer, for the tests that only need answers to finish.
    with FakeOpenAIServer(tokens=FAST_TOKENS, rate=40) as server:
        yield server


@pytest.fixture(scope="module")
def slow_openai():
    # 24 chunks at 12/s: two seconds an answer, long enough to watch the text grow.
    with FakeOpenAIServer(tokens=SLOW_TOKENS, rate=12) as server:
        yield server


@pytest.fixture
def arena(asgi_server, celery_worker_process) -> str:
    """The base URL of a running arena: the web server and a worker on the test database."""
    return f"http://{asgi_server}"


def full_answer(tokens: int) -> re.Pattern:
    """What the fake server says, whole: "[rid] w0 w1 … w<tokens-1>"."""
    return re.compile(r"^\[[0-9a-f]{6}\] " + " ".join(f"w{i}" for i in range(tokens)) + "$")


def ask(page: Page, prompt: str, *, keyboard: bool = False) -> str:
    """Send a prompt from the arena page; returns the battle's public id."""
    page.goto("/arena/")
    page.get_by_label("Your prompt").fill(prompt)
    if keyboard:
        page.get_by_label("Your prompt").press("Control+Enter")
    else:
        page.get_by_role("button", name="Send to two models").click()
    expect(page).to_have_url(re.compile(r"/arena/b/[\w-]+/$"))
    return re.search(r"/arena/b/([\w-]+)/$", page.url).group(1)


def wait_until_done(page: Page, turn: int) -> None:
    for side in (0, 1):
        expect(page.locator(f"#answer-{turn}-{side}")).to_have_attribute(
            "data-state", "done", timeout=STREAM_TIMEOUT_MS
        )


def shown_text(page: Page, turn: int, side: int) -> str:
    return page.locator(f"#answer-{turn}-{side} .body").inner_text().strip()


def test_a_visitor_types_a_prompt_watches_both_answers_stream_votes_and_sees_the_reveal(arena, slow_openai):
    for name, model_id in zip(MODEL_NAMES, MODEL_IDS, strict=True):
        register_openai(name, model_id, slow_openai.url)
    rationale = "A counts 1 to 24 in order; B takes its time. x t 2"  # vote keys typed in a text field

    with browser_visit(arena) as visit:
        page = visit.page
        public_id = ask(page, "Count to twenty-four, please.")
        expect(page.get_by_role("button", name="A is better")).to_be_disabled()
        wait_until_done(page, 0)
        expect(page.get_by_role("button", name="A is better")).to_be_enabled()
        expect(page.locator("#battle-status")).to_have_text("Both answers are in. Vote below.")
        panes = visit.panes()
        shown = [shown_text(page, 0, side) for side in (0, 1)]

        page.get_by_text("Say how strongly, score each side, say why").click()
        page.get_by_label("A better", exact=True).check()
        page.locator("select[name=score_a]").select_option("6")
        page.locator("select[name=score_b]").select_option("3")
        page.locator("#id_rationale").click()
        page.keyboard.type(rationale)
        expect(page.locator(".reveal")).to_have_count(0)  # the keys typed in the text field did not vote
        page.keyboard.press("Escape")
        page.keyboard.press("1")

        reveal = page.locator(".reveal")
        expect(reveal.locator("strong.model-name")).to_have_count(2)
        revealed = reveal.locator("strong.model-name").all_inner_texts()
        expect(reveal).to_contain_text("A is better (strength -2)")
        expect(page.locator("#new-battle")).to_be_visible()

    for side in (0, 1):
        assert full_answer(SLOW_TOKENS).match(shown[side]), shown[side]
        records = [r for r in panes if r["id"] == f"answer-0-{side}"]
        streamed = [r for r in records if r["state"] == "generating" and r["text"]]
        partial = [r for r in streamed if len(re.findall(r"\bw\d+\b", r["text"])) < SLOW_TOKENS]
        done = [r for r in records if r["state"] == "done"]
        assert done and partial, records
        # Some but not all of the words were on screen, each time a beginning of the final answer,
        # and the text grew chunk by chunk before the answer was done.
        assert all(shown[side].startswith(r["text"]) for r in streamed), streamed
        assert len({r["text"] for r in partial}) >= 3, partial
        assert max(r["t"] for r in streamed) < min(r["t"] for r in done)

    battle = Battle.objects.select_related("model_a", "model_b", "judgment").get(public_id=public_id)
    assert battle.state == BattleState.VOTED
    assert revealed == [battle.model_a.name, battle.model_b.name]
    assert sorted(revealed) == sorted(MODEL_NAMES)
    judgment = battle.judgment
    assert judgment.judge == battle.voter and judgment.judge.startswith("voter:")
    assert (judgment.source, judgment.outcome, judgment.strength, judgment.both_bad) == ("arena", "a", -2, False)
    assert judgment.rationale == rationale
    assert judgment.time_spent_ms > 0
    assert judgment.display_order == [0, 1]
    assert {(s.position, s.attribute): s.value for s in judgment.scores.all()} == {
        (0, "overall"): 6,
        (1, "overall"): 3,
    }
    comparison = judgment.comparison
    assert comparison.key == f"arena:{public_id}"
    candidates = list(comparison.candidates.order_by("position"))
    assert [c.model for c in candidates] == revealed
    assert [c.text for c in candidates] == shown


def test_no_model_name_or_id_reaches_the_browser_before_the_vote(arena, fast_openai):
    for name, model_id in zip(MODEL_NAMES, MODEL_IDS, strict=True):
        register_openai(name, model_id, fast_openai.url)
    seen: dict[str, list[str]] = {"before": [], "after": []}
    phase = ["before"]

    def on_response(response: Response) -> None:
        headers = "\n".join(f"{k}: {v}" for k, v in response.all_headers().items())
        body = ""
        if re.search(r"text/|json|javascript|css", response.all_headers().get("content-type", "")):
            try:
                body = response.text()
            except PlaywrightError:  # a redirect has no body
                pass
        seen[phase[0]].append(f"{response.request.method} {response.url}\n{headers}\n\n{body}")

    def on_websocket(ws: WebSocket) -> None:
        seen[phase[0]].append(f"websocket {ws.url}")
        ws.on("framereceived", lambda payload: seen[phase[0]].append(str(payload)))
        ws.on("framesent", lambda payload: seen[phase[0]].append(str(payload)))

    with browser_visit(arena) as visit:
        page = visit.page
        page.context.on("response", on_response)
        page.on("websocket", on_websocket)
        page.goto("/arena/")
        seen["before"].append(page.title())
        ask(page, "Which of you is which?", keyboard=True)
        wait_until_done(page, 0)
        expect(page.get_by_role("button", name="B is better")).to_be_enabled()
        seen["before"] += [page.title(), page.content()]

        phase[0] = "after"
        page.get_by_role("button", name="B is better").click()
        expect(page.locator(".reveal strong.model-name")).to_have_count(2)
        seen["after"].append(page.locator(".reveal").inner_text())

    before = "\n".join(seen["before"]).lower()
    assert "/ws/arena/" in before and '"t": "chunk"' in before  # the socket's frames were recorded
    assert "w15" in before  # so were the answers
    for secret in MODEL_NAMES + MODEL_IDS + ["quokka", "narwhal"]:
        assert secret.lower() not in before, secret
    after = "\n".join(seen["after"]).lower()
    for name in MODEL_NAMES:  # the recorder does see names once they are shown
        assert name.lower() in after


def test_model_answers_and_prompts_with_html_render_inert(arena, slow_openai):
    register_openai(MODEL_NAMES[0], MODEL_IDS[0], slow_openai.url)
    register_openai("Mallory Markup 7B", "mallory-xss-7b", slow_openai.url)
    prompt = (
        "Render these: <script>window.__pwned = 1</script> "
        '<img src=x onerror="window.__pwned=2"> [click](javascript:window.__pwned=3)'
    )

    with browser_visit(arena) as visit:
        page = visit.page
        ask(page, prompt)
        wait_until_done(page, 0)
        xss_side = next(side for side in (0, 1) if "Here is my" in shown_text(page, 0, side))
        xss_text = shown_text(page, 0, xss_side)
        prompt_text = page.locator(".turn .prompt").inner_text()
        links = page.evaluate("[...document.querySelectorAll('#turns a')].map((a) => a.getAttribute('href'))")
        on_attributes = page.evaluate("""[...document.querySelectorAll('*')]
            .filter((el) => [...el.attributes].some((a) => a.name.toLowerCase().startsWith('on')))
            .map((el) => el.outerHTML)""")
        assert page.locator("#turns script, #turns img").count() == 0
        link_texts = page.locator("#turns").get_by_text("javascript:").all()
        assert len(link_texts) == 2  # the prompt's link and the answer's, both left as text
        for text in link_texts:
            text.click()
        for link in page.locator("#turns a").all():
            link.click()
        page.wait_for_timeout(200)  # a handler, had one been installed, would have run by now
        pwned = page.evaluate("typeof window.__pwned")
        url = page.url
        panes = visit.panes()

    assert pwned == "undefined"
    assert visit.dialogs == []
    assert re.search(r"/arena/b/[\w-]+/$", url)  # no click navigated anywhere
    assert on_attributes == []
    assert all(re.match(r"https?://", href or "") for href in links), links
    # Inert, not lost: the visitor reads the markup as text.
    assert "<script>window.__pwned = 1</script>" in prompt_text
    assert "[click](javascript:window.__pwned=3)" in prompt_text
    assert "<script>alert(1)</script>" in xss_text and "onerror=alert(2)" in xss_text

    # While streaming the same markup was text in the .stream div, and nothing could ever run.
    assert all(r["active"] == 0 and r["pwned"] == "undefined" for r in panes), panes
    streamed = [r for r in panes if r["id"] == f"answer-0-{xss_side}" and r["state"] == "generating"]
    raw = [r for r in streamed if "<script>alert(1)</script>" in r["text"]]
    assert raw, streamed
    assert all(r["tags"] == ["div"] for r in streamed), streamed


def test_a_failing_model_ends_the_battle_with_a_message_and_a_new_battle_button(arena, slow_openai):
    register_openai(MODEL_NAMES[0], MODEL_IDS[0], slow_openai.url)
    register_openai("Broken Model 1B", "broken-error-1b", slow_openai.url)

    def shows_a_failed_battle(page: Page) -> None:
        status = page.locator("#battle-status")
        expect(status).to_contain_text(BATTLE_FAILED)
        expect(status.locator("#new-battle")).to_be_visible()
        for button in page.locator("#vote-form button[name=choice]").all():
            assert button.is_hidden() or button.is_disabled()
        expect(page.locator("#followup-form")).to_be_hidden()

    with browser_visit(arena) as visit:
        page = visit.page
        public_id = ask(page, "Say something.")
        shows_a_failed_battle(page)  # live, over the socket
        # The healthy side is still writing. A visitor who reloads now gets the failed battle from
        # the server, and still the rest of the healthy answer.
        page.reload()
        shows_a_failed_battle(page)
        expect(page.locator("article.answer[data-state=failed]")).to_have_count(1)
        healthy = page.locator("article.answer:not([data-state=failed])")
        expect(healthy).to_have_attribute("data-state", "done", timeout=STREAM_TIMEOUT_MS)
        healthy_id = healthy.get_attribute("id")
        healthy_text = healthy.locator(".body").inner_text().strip()
        status_text = page.locator("#battle-status").inner_text()
        page.keyboard.press("1")  # no vote on a failed battle
        expect(page.locator(".reveal")).to_have_count(0)
        page.locator("#new-battle").click()
        expect(page).to_have_url(re.compile(r"/arena/$"))
        expect(page.get_by_label("Your prompt")).to_be_visible()

    assert full_answer(SLOW_TOKENS).match(healthy_text), healthy_text
    assert "broken" not in status_text.lower()
    battle = Battle.objects.select_related("model_a", "model_b").get(public_id=public_id)
    assert battle.state == BattleState.FAILED and battle.judgment_id is None
    healthy_side = int(healthy_id.rsplit("-", 1)[1])
    assert battle.model_at(healthy_side).name == MODEL_NAMES[0]
    assert battle.model_at(1 - healthy_side).name == "Broken Model 1B"


def test_a_follow_up_turn_streams_to_both_models(arena, fast_openai):
    for name, model_id in zip(MODEL_NAMES, MODEL_IDS, strict=True):
        register_openai(name, model_id, fast_openai.url)
    first, second = "Name three rivers.", "Now the longest of them?"

    with browser_visit(arena) as visit:
        page = visit.page
        public_id = ask(page, first)
        wait_until_done(page, 0)
        expect(page.get_by_role("button", name="Send follow-up")).to_be_enabled()
        page.get_by_label("Ask both a follow-up").fill(second)
        page.get_by_role("button", name="Send follow-up").click()
        expect(page.locator(".turn")).to_have_count(2)
        expect(page.locator(".turn").nth(1).locator(".prompt")).to_contain_text(second)
        wait_until_done(page, 1)
        expect(page.get_by_role("button", name="B is better")).to_be_enabled()
        expect(page.locator("#id_followup")).to_have_value("")
        shown = {(turn, side): shown_text(page, turn, side) for turn in (0, 1) for side in (0, 1)}
        page.get_by_role("button", name="B is better").click()
        expect(page.locator(".reveal strong.model-name")).to_have_count(2)

    assert all(full_answer(FAST_TOKENS).match(text) for text in shown.values()), shown
    assert len(set(shown.values())) == 4  # four requests, four answers
    comparison = Comparison.objects.get(key=f"arena:{public_id}")
    assert comparison.context == [
        {"role": "user", "content": first},
        {"role": "assistant", "content": shown[0, 0]},
        {"role": "user", "content": second},
    ]
    assert comparison.prompt == second
    a, b = comparison.candidates.order_by("position")
    assert (a.text, b.text) == (shown[1, 0], shown[1, 1])
    assert a.conversation is None  # context + text already is A's whole conversation
    assert b.conversation == [
        {"role": "user", "content": first},
        {"role": "assistant", "content": shown[0, 1]},
        {"role": "user", "content": second},
        {"role": "assistant", "content": shown[1, 1]},
    ]
    assert comparison.judgments.get().outcome == "b"
    # Each model was sent its own first answer with the follow-up, not the other side's.
    for side in (0, 1):
        rid = re.match(r"\[(\w+)\]", shown[1, side]).group(1)
        request = next(r for r in fast_openai.requests if r.rid == rid)
        assert request.body["messages"] == [
            {"role": "user", "content": first},
            {"role": "assistant", "content": shown[0, side]},
            {"role": "user", "content": second},
        ]


def test_a_prompt_no_model_knows_is_refused_with_what_to_do_and_the_recorded_prompts_lead(arena):
    replay_models_register()
    own = "Write a poem about my cat."

    with browser_visit(arena) as visit:
        page = visit.page
        page.goto("/arena/")
        expect(page.get_by_role("heading", name="Start with one of the 13 recorded prompts")).to_be_visible()
        expect(page.locator("button.suggestion")).to_have_count(13)
        page.get_by_label("Your prompt").fill(own)
        page.get_by_role("button", name="Send to two models").click()
        error = page.get_by_role("alert")
        expect(error).to_contain_text("answer only the recorded prompts")
        expect(error).to_contain_text("python manage.py add_model")
        message = error.inner_text()
        expect(page).to_have_url(re.compile(r"/arena/$"))
        expect(page.get_by_label("Your prompt")).to_have_value(own)
        # The way in the page offers does start a battle, and one that offers no follow-up.
        page.locator("button.suggestion").first.click()
        expect(page).to_have_url(re.compile(r"/arena/b/[\w-]+/$"))
        expect(page.locator("#vote-form")).to_be_visible()
        expect(page.locator("#followup-form")).to_have_count(0)

    assert "try again" not in message.lower()
    assert Battle.objects.count() == 1


def test_a_refused_follow_up_leaves_the_battle_ready_to_vote(arena, fast_openai):
    for name, model_id in zip(MODEL_NAMES, MODEL_IDS, strict=True):
        register_openai(name, model_id, fast_openai.url)

    with browser_visit(arena) as visit:
        page = visit.page
        public_id = ask(page, "Name a river.")
        wait_until_done(page, 0)
        vote_a = page.get_by_role("button", name="A is better")
        expect(vote_a).to_be_enabled()
        # A NUL cannot be typed, but a paste or a script can put one in the box.
        page.locator("#id_followup").evaluate("(box) => { box.value = 'And then?\\u0000'; }")
        for _ in range(2):  # refused twice: still one message, not one more per refusal
            with page.expect_response(lambda response: response.url.endswith("/turns")) as refusal:
                page.get_by_role("button", name="Send follow-up").click()
            assert refusal.value.status == 400
            expect(page.locator("#followup-error")).to_have_text("Null characters are not allowed.")
            expect(page.locator("[id=followup-error]")).to_have_count(1)
            expect(page.locator("#battle")).to_have_attribute("data-state", "ready")
            expect(vote_a).to_be_enabled()
            expect(page.get_by_role("button", name="Send follow-up")).to_be_enabled()
        expect(page.locator(".turn")).to_have_count(1)
        status = page.locator("#battle-status").inner_text()
        vote_a.click()
        expect(page.locator(".reveal strong.model-name")).to_have_count(2)
        expect(page.locator("#followup-form")).to_have_count(0)  # no follow-up after the vote

    assert status == "Both answers are in. Vote below."
    battle = Battle.objects.select_related("judgment").get(public_id=public_id)
    assert battle.state == BattleState.VOTED and battle.judgment.outcome == "a"
    assert battle.answers.count() == 2


class HeldAnswers(FakeOpenAI):
    """The answers of the models `holds` picks (all, here) start only once `release` is set: the test lets
    them go only when the page is already listening."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.release = threading.Event()

    def holds(self, record) -> bool:
        return True

    async def _stream(self, request, record, words, rate):
        if self.holds(record):
            while not (self.release.is_set() or self.closing.is_set()):
                await asyncio.sleep(0.02)
        return await super()._stream(request, record, words, rate)


class HeldEmptyAnswers(HeldAnswers):
    """A model whose id says "empty" answers nothing at all (a finish and no text), once `release` is set,
    so its label is drawn live."""

    def holds(self, record) -> bool:
        return "empty" in record.model

    async def _stream(self, request, record, words, rate):
        return await super()._stream(request, record, [] if self.holds(record) else words, rate)


@contextmanager
def serving(handlers: FakeOpenAI) -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer()
    server.handlers = handlers
    with server:
        yield server


@pytest.fixture
def empty_openai():
    with serving(HeldEmptyAnswers(tokens=FAST_TOKENS, rate=40)) as server:
        yield server


def test_an_empty_answer_is_labelled_live_and_on_reload_and_can_be_voted_on(arena, empty_openai):
    register_openai(MODEL_NAMES[0], MODEL_IDS[0], empty_openai.url)
    register_openai("Silent Model 1B", "silent-empty-1b", empty_openai.url)
    label = "This model returned an empty answer."

    with browser_visit(arena) as visit:
        page = visit.page
        public_id = ask(page, "Say something.")
        # The other answer arrived over the socket: the page is live when the empty one finishes.
        expect(page.locator("article.answer[data-state=done]")).to_have_count(1, timeout=STREAM_TIMEOUT_MS)
        expect(page.locator(".empty-answer")).to_have_count(0)
        empty_openai.handlers.release.set()
        wait_until_done(page, 0)
        live = page.locator("article.answer", has=page.locator(".empty-answer"))
        expect(live).to_have_count(1)
        expect(live.locator(".body")).to_have_text(label)
        empty_id = live.get_attribute("id")
        expect(page.get_by_role("button", name="A is better")).to_be_enabled()
        page.reload()
        expect(page.locator(f"#{empty_id} .body")).to_have_text(label)
        expect(page.locator(".empty-answer")).to_have_count(1)
        page.get_by_role("button", name="Both are bad").click()
        expect(page.locator(".reveal strong.model-name")).to_have_count(2)

    battle = Battle.objects.select_related("model_a", "model_b", "judgment").get(public_id=public_id)
    empty_side = int(empty_id.rsplit("-", 1)[1])
    assert battle.model_at(empty_side).name == "Silent Model 1B"
    assert battle.answers.get(side=empty_side).text == ""
    assert battle.state == BattleState.VOTED and battle.judgment.both_bad
    assert [c.text == "" for c in battle.judgment.comparison.candidates.order_by("position")] == [
        side == empty_side for side in (0, 1)
    ]


@pytest.fixture
def held_openai():
    with serving(HeldAnswers(tokens=FAST_TOKENS, rate=40)) as server:
        yield server


@pytest.fixture
def arena_losing_every_event(asgi_server, transactional_db) -> Iterator[str]:
    """The web server, and a worker that publishes under another channel-layer prefix: the answers are
    generated and stored, but no chunk, end or state event reaches the page (as while Redis restarts)."""
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    prefix = config["prefix"]
    config["prefix"] = f"{prefix}-unheard"  # what stack_env gives the worker as it starts
    try:
        with running_worker(connection.settings_dict["NAME"], log_name="worker-unheard"):
            config["prefix"] = prefix
            yield f"http://{asgi_server}"
    finally:
        config["prefix"] = prefix


def test_a_page_whose_events_are_lost_shows_the_end_after_its_watchdog_connects_again(
    arena_losing_every_event, held_openai
):
    for name, model_id in zip(MODEL_NAMES, MODEL_IDS, strict=True):
        register_openai(name, model_id, held_openai.url)

    with browser_visit(arena_losing_every_event) as visit:
        page = visit.page
        sockets: list[str] = []
        states: list[str] = []

        def on_socket(socket: WebSocket) -> None:
            sockets.append(socket.url)
            socket.on("framereceived", lambda payload: states.append(json.loads(payload).get("state", "")))

        page.on("websocket", on_socket)
        ask(page, "Name a river.")
        deadline = time.monotonic() + STREAM_TIMEOUT_MS / 1000
        while "generating" not in states:  # the first socket's snapshot, before any answer can end
            assert time.monotonic() < deadline, "the page's socket sent no snapshot"
            page.wait_for_timeout(50)
        # Short, so the test waits on no clock: the page's default is 15 s (the server's own resync, 10 s).
        page.locator("#battle").evaluate("(battle) => { battle.dataset.quietMs = '300'; }")
        held_openai.handlers.release.set()
        wait_until_done(page, 0)
        expect(page.locator("#battle")).to_have_attribute("data-state", "ready", timeout=STREAM_TIMEOUT_MS)
        expect(page.get_by_role("button", name="A is better")).to_be_enabled()
        status = page.locator("#battle-status").inner_text()
        shown = [shown_text(page, 0, side) for side in (0, 1)]

    assert len(sockets) >= 2  # the end came over a socket the watchdog opened: the first one heard nothing more
    assert status == "Both answers are in. Vote below."
    assert all(full_answer(FAST_TOKENS).match(text) for text in shown), shown
