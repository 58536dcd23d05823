"""The model backends against real parts: our OpenAI-compatible server on loopback, the LLMFAO
recordings, and a tiny GPT-2 built on the spot. Plain async code run with asyncio.run."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from django.conf import settings

from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.tiny_model import build_tiny_model
from workers.backends import BACKEND_CHOICES, BACKENDS, Backend, BackendError, Finished, ModelSpec, backend_for
from workers.backends import openai as openai_backend
from workers.backends.local import batcher_for, build_prompt, load_model
from workers.backends.openai import SSEParser
from workers.backends.replay import known_prompts, replay_models

ROOT = Path(__file__).resolve().parents[2]
HELLO = [{"role": "user", "content": "hello there"}]
T = TypeVar("T")


def run(coroutine: Awaitable[T]) -> T:
    """Run a test coroutine in its own loop, closing the loop's HTTP session as a worker must."""

    async def main() -> T:
        try:
            return await coroutine
        finally:
            await openai_backend.close_session()

    return asyncio.run(main())


async def collect(backend: Backend, messages: list[dict]) -> tuple[list[str], Finished]:
    deltas: list[str] = []
    async for item in backend.stream(messages):
        if isinstance(item, Finished):
            return deltas, item
        deltas.append(item)
    raise AssertionError("the stream ended without a Finished")


def wait_until(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# ---------------------------------------------------------------- the registry


def test_importing_the_registry_imports_neither_torch_nor_transformers():
    code = "import sys, workers.backends; print('torch' in sys.modules, 'transformers' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_backend_for_picks_the_backend_named_by_the_spec():
    assert [value for value, _ in BACKEND_CHOICES] == ["openai", "transformers", "replay"]
    for name, backend in BACKENDS.items():
        assert isinstance(backend_for(ModelSpec(name="m", backend=name)), backend)
    with pytest.raises(BackendError, match="unknown backend 'nope'"):
        backend_for(ModelSpec(name="m", backend="nope"))


# ---------------------------------------------------------------- server-sent events


def test_the_sse_parser_reassembles_events_split_anywhere():
    stream = (
        ': keep-alive\r\ndata: {"a":\r\ndata: 1}\r\n\r\n'  # a comment, CRLF, data over two lines
        "event: ping\nid: 7\ndata: two\n\n"
        'error: {"message": "x"}\n\n'  # how llama.cpp's server reports a failure
    )
    parser = SSEParser()
    events = [event for char in stream for event in parser.feed(char)] + parser.close()
    assert [(event.event, event.data) for event in events] == [
        ("message", '{"a":\n1}'),
        ("ping", "two"),
        ("error", '{"message": "x"}'),
    ]


def test_the_sse_parser_keeps_a_last_event_that_lacks_its_blank_line():
    parser = SSEParser()
    assert parser.feed("data: [DONE]") == []
    assert [event.data for event in parser.close()] == ["[DONE]"]


# ---------------------------------------------------------------- openai


@pytest.fixture(scope="module")
def server():
    with FakeOpenAIServer(tokens=8, rate=200.0) as fake:
        yield fake


def openai_spec(server: FakeOpenAIServer, model_id: str = "fake", **fields) -> ModelSpec:
    return ModelSpec(name=f"test {model_id}", backend="openai", endpoint=server.url + "/", model_id=model_id, **fields)


def test_openai_streams_the_whole_answer_and_the_token_count(server):
    spec = openai_spec(server, params={"temperature": 0.5, "max_tokens": 99})
    deltas, finished = run(collect(backend_for(spec), HELLO))

    request = server.requests[-1]
    assert "".join(deltas) == f"[{request.rid}] w0" + "".join(f" w{i}" for i in range(1, 8))
    assert finished == Finished("stop", 8)
    assert request.body == {
        "model": "fake",
        "messages": HELLO,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.5,
        "max_tokens": 99,
    }
    assert request.ok


def test_openai_counts_chunks_when_the_server_reports_no_usage(server):
    spec = openai_spec(server, params={"stream_options": None})
    deltas, finished = run(collect(backend_for(spec), HELLO))

    assert "stream_options" not in server.requests[-1].body
    assert finished == Finished("stop", len(deltas)) and len(deltas) == 8


def test_openai_yields_each_delta_as_it_arrives(server):
    async def read_first_delta() -> str:
        # This model's server sends three chunks and then nothing until the client hangs up: a client
        # that waited for the end of the answer would never see a delta (the timeout says so).
        async with asyncio.timeout(60):
            async for item in backend_for(openai_spec(server, model_id="stall-first")).stream(HELLO):
                if item:
                    return item
        raise AssertionError("the stream ended without a delta")

    first = run(read_first_delta())
    assert first == f"[{server.requests[-1].rid}] w0"


def test_openai_takes_a_non_streaming_answer_too(server):
    deltas, finished = run(collect(backend_for(openai_spec(server, params={"stream": False})), HELLO))

    assert server.requests[-1].body["stream"] is False and "stream_options" not in server.requests[-1].body
    assert deltas == [f"[{server.requests[-1].rid}] w0" + "".join(f" w{i}" for i in range(1, 8))]
    assert finished == Finished("stop", 8)


def test_openai_serves_hundreds_of_concurrent_streams_each_its_own_answer(server):
    async def many() -> list[tuple[list[str], Finished]]:
        backend = backend_for(openai_spec(server))
        results = await asyncio.gather(*(collect(backend, HELLO) for _ in range(200)))
        assert openai_backend.session() is openai_backend.session()
        return results

    results = run(many())

    texts = ["".join(deltas) for deltas, _ in results]
    assert len(set(texts)) == 200  # each stream got its own request's answer, none got another's
    assert all(text.endswith(" w6 w7") for text in texts)
    assert all(finished == Finished("stop", 8) for _, finished in results)


def test_an_http_error_gives_the_servers_message(server):
    with pytest.raises(BackendError, match="answered HTTP 500: the fake server was asked to fail for model fake-error"):
        run(collect(backend_for(openai_spec(server, "fake-error")), HELLO))


@pytest.mark.parametrize(
    ("model_id", "message"),
    [
        ("fake-cut", "the stream ended before the answer was complete"),
        ("fake-garbled", "malformed JSON from http://127.0.0.1:"),
        ("fake-abort", "reported an error: the fake model failed mid-answer"),
    ],
)
def test_a_broken_stream_is_a_backend_error_after_the_text_so_far(server, model_id, message):
    deltas: list[str] = []

    async def read() -> None:
        async for item in backend_for(openai_spec(server, model_id)).stream(HELLO):
            deltas.append(item)

    with pytest.raises(BackendError, match=message):
        run(read())
    assert len(deltas) == 4


def test_a_stalled_stream_times_out_and_the_server_sees_the_client_go(server):
    deltas: list[str] = []

    async def read() -> None:
        async with asyncio.timeout(1):
            async for item in backend_for(openai_spec(server, "fake-stall")).stream(HELLO):
                deltas.append(item)

    with pytest.raises(TimeoutError):
        run(read())
    request = server.requests[-1]
    assert len(deltas) == 3
    assert wait_until(lambda: request.disconnected and request.t_done is not None)


def test_an_unreachable_server_is_a_backend_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    spec = ModelSpec(name="gone", backend="openai", endpoint=f"http://127.0.0.1:{port}/v1", model_id="m")
    with pytest.raises(BackendError, match=rf"cannot reach http://127.0.0.1:{port}/v1/chat/completions"):
        run(collect(backend_for(spec), HELLO))


def test_openai_sends_the_api_key_from_the_named_environment_variable(server, monkeypatch):
    monkeypatch.setenv("AGORA_TEST_API_KEY", "sk-test-123")
    run(collect(backend_for(openai_spec(server, api_key_env="AGORA_TEST_API_KEY")), HELLO))
    assert server.requests[-1].authorization == "Bearer sk-test-123"


def test_a_missing_api_key_variable_is_a_backend_error_that_names_it(server, monkeypatch):
    monkeypatch.delenv("AGORA_TEST_API_KEY", raising=False)
    before = len(server.requests)
    with pytest.raises(BackendError, match="AGORA_TEST_API_KEY"):
        run(collect(backend_for(openai_spec(server, api_key_env="AGORA_TEST_API_KEY")), HELLO))
    assert len(server.requests) == before


# ---------------------------------------------------------------- replay

LLMFAO = Path(settings.AGORA_DATA_DIR) / "llmfao"


def llmfao(name: str) -> list[dict]:
    with open(LLMFAO / name, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def prompt_text(prompt_id: int) -> str:
    return next(p["text"] for p in llmfao("prompts.jsonl") if p["id"] == prompt_id)


def recorded(model: str, prompt_id: int) -> dict:
    return next(r for r in llmfao("results.jsonl") if r["name"] == model and r["prompt"] == prompt_id)


def replay_spec(model: str, **params) -> ModelSpec:
    return ModelSpec(name=model, backend="replay", model_id=model, params=params)


def test_replay_streams_exactly_the_recorded_answer():
    record = recorded("Airoboros L2 70B", 5)
    deltas, finished = run(
        collect(
            backend_for(replay_spec(record["name"], speed=1000)),
            [
                {"role": "system", "content": "You are helpful."},
                {"role": "user", "content": prompt_text(5)},
            ],
        )
    )

    assert "".join(deltas) == record["result"]
    assert len(deltas) > 20 and all(delta.strip() for delta in deltas[1:])
    assert finished == Finished("stop", len(deltas))


def test_replay_keeps_to_the_recorded_rate_times_the_speed():
    record = recorded("Airoboros L2 70B", 5)
    tokens = len(
        run(
            collect(
                backend_for(replay_spec(record["name"], speed=0)),
                [
                    {"role": "user", "content": prompt_text(5)},
                ],
            )
        )[0]
    )
    # The last token is due (tokens - 1) / (rate × speed) after the first; aim for about 0.3 s.
    speed = (tokens - 1) / record["rate"] / 0.3

    start = time.monotonic()
    run(collect(backend_for(replay_spec(record["name"], speed=speed)), [{"role": "user", "content": prompt_text(5)}]))
    assert time.monotonic() - start >= 0.3


def test_replay_answers_only_a_first_question_it_has_a_recording_for():
    backend = backend_for(replay_spec("Airoboros L2 70B"))
    k8s = prompt_text(8)

    assert backend.can_answer([{"role": "user", "content": k8s}])
    assert backend.can_answer([{"role": "user", "content": "  " + k8s.replace(" ", "\n  ") + "\n"}])
    assert not backend.can_answer([{"role": "user", "content": "What is the capital of France?"}])
    assert not backend.can_answer(
        [
            {"role": "user", "content": k8s},
            {"role": "assistant", "content": recorded("Airoboros L2 70B", 8)["result"]},
            {"role": "user", "content": k8s},
        ]
    )
    # Recorded, but never compared by the LLMFAO crowd, so not offered.
    assert not backend.can_answer([{"role": "user", "content": prompt_text(18)}])


def test_replay_cannot_answer_for_a_model_without_a_result():
    # Vicuna-FastChat-T5 returned an empty answer to "sally" (prompt 2).
    assert recorded("Vicuna-FastChat-T5 (3B)", 2)["result"] == ""
    backend = backend_for(replay_spec("Vicuna-FastChat-T5 (3B)"))

    assert not backend.can_answer([{"role": "user", "content": prompt_text(2)}])
    with pytest.raises(BackendError, match="only replays recorded answers to known prompts"):
        run(collect(backend, [{"role": "user", "content": prompt_text(2)}]))


def test_replay_lists_the_prompts_and_models_the_crowd_compared():
    prompts = known_prompts()
    models = {model["name"]: model for model in replay_models()}

    assert len(prompts) == 13 and [p["id"] for p in prompts] == sorted(p["id"] for p in prompts)
    assert prompts[0].keys() == {"id", "slug", "text", "type"}
    assert len(models) == 59
    assert models["Airoboros L2 70B"] == {
        "name": "Airoboros L2 70B",
        "api_id": "jondurbin/airoboros-l2-70b-2.1",
        "org": "Jon Durbin",
        "prompts": 13,
    }
    assert models["Vicuna-FastChat-T5 (3B)"]["prompts"] == 6


# ---------------------------------------------------------------- transformers


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gpt2"))


def local_spec(path: Path | str, name: str = "tiny", **params) -> ModelSpec:
    return ModelSpec(name=name, backend="transformers", model_id=str(path), params=params)


def test_transformers_streams_what_the_model_generates(tiny_model):
    deltas, finished = run(collect(backend_for(local_spec(tiny_model, max_tokens=24)), HELLO))

    tokenizer, model = load_model(tiny_model)
    inputs = tokenizer(build_prompt(tokenizer, HELLO), return_tensors="pt", add_special_tokens=False)
    output = model.generate(**inputs, max_new_tokens=24, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    expected = tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert len(deltas) >= 3
    assert "".join(deltas) == expected
    assert finished == Finished("length", 24)


def test_transformers_samples_with_the_temperature_and_seed_asked_for(tiny_model):
    def answer(**params) -> str:
        return "".join(run(collect(backend_for(local_spec(tiny_model, max_tokens=24, **params)), HELLO))[0])

    sampled = answer(temperature=5.0, seed=7)
    assert sampled == answer(temperature=5.0, seed=7)
    assert sampled != answer()


def test_a_failing_generation_is_a_backend_error(tiny_model):
    with pytest.raises(BackendError, match="generation failed"):
        run(collect(backend_for(local_spec(tiny_model, temperature=1.0, top_p=-0.5)), HELLO))


def test_a_missing_model_directory_is_a_backend_error(tmp_path):
    with pytest.raises(BackendError, match=f"the model directory {tmp_path / 'nope'} does not exist"):
        run(collect(backend_for(local_spec(tmp_path / "nope")), HELLO))


def test_cancelling_the_reader_stops_its_generation(tiny_model):
    batcher = batcher_for(tiny_model)
    rows: list[list] = []

    async def read_then_watch():
        first = asyncio.Event()

        async def read() -> None:
            async for item in backend_for(local_spec(tiny_model, max_tokens=6000)).stream(HELLO):
                with batcher.wake:  # the answers in the batcher's hands, running or between segments
                    rows.append([r for r in batcher.running + batcher.pending if not (r.done or r.stop.is_set())])
                if item:
                    first.set()

        # Cancelled as a timeout cancels it, once the answer is under way.
        reader = asyncio.create_task(read())
        await first.wait()
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        # Watch with the loop still running: a closed loop would also end the row, hiding a missing stop.
        (request,) = rows[0]
        while not request.done or request in batcher.running:
            await asyncio.sleep(0.02)
        return request

    request = run(read_then_watch())
    assert all(live == [request] for live in rows)
    # Its batch ended with the row stopped, long before its 6000 tokens (seconds of work on a CPU).
    assert request.done and request.stop.is_set() and request.produced < 6000


async def held_together(batcher, *readers: Awaitable[T]) -> list[T]:
    """Run READERS with the batcher's gate closed until all of them wait, so they leave as one batch
    whatever the scheduler does; batch_sizes then counts their segments only."""
    with batcher.hold():
        tasks = [asyncio.ensure_future(reader) for reader in readers]
        assert await asyncio.to_thread(batcher.wait_for_waiting, len(tasks), 120)
        batcher.batch_sizes.clear()
    results = await asyncio.gather(*tasks)
    # An answer's reader is done at its last token, before the generation thread counts the segment
    # that made it: wait until no batch runs, so batch_sizes holds every segment on a busy machine too.
    assert await asyncio.to_thread(batcher.wait_for_waiting, 0, 120)
    return results


def test_answers_asked_for_together_are_generated_as_one_batch(tiny_model):
    """Five readers at once: one generate() call serves them, each gets what it would get alone."""
    batcher = batcher_for(tiny_model)
    other = [{"role": "user", "content": "Explain in a short paragraph quantum field theory"}]
    alone = {
        "hello": "".join(run(collect(backend_for(local_spec(tiny_model, max_tokens=24)), HELLO))[0]),
        "other": "".join(run(collect(backend_for(local_spec(tiny_model, max_tokens=24)), other))[0]),
    }
    assert alone["hello"] != alone["other"]

    prompts = [HELLO, other, HELLO, other, HELLO]
    results = run(
        held_together(
            batcher, *(collect(backend_for(local_spec(tiny_model, max_tokens=24)), prompt) for prompt in prompts)
        )
    )
    # 24 tokens are two segments; both hold all five answers.
    assert batcher.batch_sizes == {5: 2}
    expected = [alone[key] for key in ("hello", "other", "hello", "other", "hello")]
    assert ["".join(deltas) for deltas, _ in results] == expected
    assert all(finished == Finished("length", 24) for _, finished in results)


def test_a_new_answer_joins_a_long_one_within_a_segment(tiny_model):
    expected = "".join(run(collect(backend_for(local_spec(tiny_model, max_tokens=24)), HELLO))[0])

    async def join() -> tuple[list[str], bool]:
        # 3000 tokens take seconds on a CPU; the short answer must not wait for them.
        long = backend_for(local_spec(tiny_model, max_tokens=3000)).stream(HELLO)
        await anext(long)
        deltas, _ = await collect(backend_for(local_spec(tiny_model, max_tokens=24)), HELLO)
        batcher = batcher_for(tiny_model)
        with batcher.wake:  # between segments the long answer waits in pending, else it is running
            long_running = any(
                request.settings.max_new_tokens == 3000 and not request.done
                for request in batcher.running + batcher.pending
            )
        await long.aclose()
        return deltas, long_running

    deltas, long_running = run(join())
    assert "".join(deltas) == expected
    assert long_running


def test_a_reader_leaving_a_batch_leaves_the_others_running(tiny_model):
    expected = "".join(run(collect(backend_for(local_spec(tiny_model, max_tokens=40)), HELLO))[0])

    async def one_leaves() -> tuple[list[str], Finished]:
        async def leave() -> None:
            async for item in backend_for(local_spec(tiny_model, max_tokens=40)).stream(HELLO):
                if item:
                    return  # the generator is closed: its row must stop, not the batch

        stays = asyncio.create_task(collect(backend_for(local_spec(tiny_model, max_tokens=40)), HELLO))
        await leave()
        return await stays

    deltas, finished = run(one_leaves())
    assert "".join(deltas) == expected
    assert finished == Finished("length", 40)


def test_a_failing_answer_fails_alone_and_its_batch_goes_on(tiny_model):
    expected = "".join(run(collect(backend_for(local_spec(tiny_model, max_tokens=24)), HELLO))[0])
    # Past the model's 8,192 positions: generate() raises for any batch holding this conversation.
    too_long = [{"role": "user", "content": "hello " * 9000}]

    async def together() -> list:
        return await asyncio.gather(
            collect(backend_for(local_spec(tiny_model, max_tokens=24)), too_long),
            collect(backend_for(local_spec(tiny_model, max_tokens=24)), HELLO),
            return_exceptions=True,
        )

    failed, (deltas, finished) = run(together())
    assert isinstance(failed, BackendError) and "generation failed" in str(failed)
    assert "".join(deltas) == expected and finished == Finished("length", 24)


def test_answers_of_other_lengths_share_a_batch_and_other_settings_do_not(tiny_model):
    batcher = batcher_for(tiny_model)

    async def together(*params: dict) -> list[Finished]:
        readers = (collect(backend_for(local_spec(tiny_model, **these)), HELLO) for these in params)
        return [finished for _, finished in await held_together(batcher, *readers)]

    # A length is each answer's own: both ride the first segment, the longer goes on alone.
    assert run(together({"max_tokens": 24}, {"max_tokens": 8})) == [Finished("length", 24), Finished("length", 8)]
    assert batcher.batch_sizes == {2: 1, 1: 1}
    # Sampling settings are the batch's: a greedy and a sampled answer never share one.
    assert run(together({"max_tokens": 8}, {"max_tokens": 8, "temperature": 1.0, "seed": 3})) == [
        Finished("length", 8),
        Finished("length", 8),
    ]
    assert batcher.batch_sizes == {1: 2}
