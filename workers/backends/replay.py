"""Real answers recorded in LLMFAO (github.com/dustalov/llmfao), streamed back at each model's recorded speed.

The arena runs with no GPU and no API key: 59 real models' answers to 13 real prompts, which people
can compare exactly as if the models were live. The set is the one the LLMFAO crowd compared
(``pairs-crowd.jsonl``), so votes cast here are comparable with the imported crowd judgments; the
other prompts in the files (code completion, SVG) were never compared.

``results.jsonl`` holds one answer per (model, prompt) with its generation rate in tokens per
second; ``prompts.jsonl`` beside it holds the prompt texts. The index of both is built once per
process and file, under a lock, since Celery threads and the web process both ask for it.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from django.conf import settings

from workers.backends.base import Backend, BackendError, Finished

# Some recordings have no rate (0.0); a typical hosted model's pace.
DEFAULT_RATE = 30.0
CANNOT_ANSWER = "this model only replays recorded answers to known prompts"
# Each token keeps the whitespace before it, so the tokens join back to exactly the recorded text.
_TOKEN = re.compile(r"\s*\S+|\s+")


@dataclass(frozen=True)
class Recording:
    text: str
    rate: float  # tokens per second


@dataclass(frozen=True)
class ReplayIndex:
    prompts: list[dict]  # id, slug, text, type; by id
    models: list[dict]  # name, api_id, org, prompts (how many it answers); by name
    # normalized prompt text → recorded model name → its non-empty answer
    answers: dict[str, dict[str, Recording]]


_indexes: dict[Path, ReplayIndex] = {}
_indexes_lock = threading.Lock()


def default_results_path() -> Path:
    return Path(settings.AGORA_DATA_DIR) / "llmfao" / "results.jsonl"


def replay_index(results_path: Path | str | None = None) -> ReplayIndex:
    """The index of one results file (default: the shipped LLMFAO data), built on first use."""
    path = Path(results_path or default_results_path()).resolve()
    with _indexes_lock:
        if path not in _indexes:
            _indexes[path] = _build_index(path)
        return _indexes[path]


def replay_models(results_path: Path | str | None = None) -> list[dict]:
    """The recorded models, for the demo loader: name (the ModelSpec.model_id), api_id, org, prompts."""
    return [dict(model) for model in replay_index(results_path).models]


def known_prompts(results_path: Path | str | None = None) -> list[dict]:
    """The prompts with recorded answers, for the arena page to offer: id, slug, text, type; by id."""
    return [dict(prompt) for prompt in replay_index(results_path).prompts]


def normalize_prompt(text: str) -> str:
    """The form prompts are matched in: a prompt pasted with other line breaks or spacing still matches."""
    return " ".join(text.split())


def split_tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


class ReplayBackend(Backend):
    name: ClassVar[str] = "replay"
    label: ClassVar[str] = "Replay of recorded LLMFAO answers"

    def can_answer(self, messages: list[dict]) -> bool:
        return self._recording(messages) is not None

    async def stream(self, messages: list[dict]) -> AsyncIterator[str | Finished]:
        recording = self._recording(messages)
        if recording is None:
            raise BackendError(CANNOT_ANSWER)
        tokens = split_tokens(recording.text)
        rate = recording.rate * self._speed()
        loop = asyncio.get_running_loop()
        start = loop.time()
        for number, token in enumerate(tokens):
            # An absolute schedule: a late wake-up shortens the next wait instead of adding up as drift.
            delay = start + number / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            yield token
        yield Finished("stop", len(tokens))

    def _recording(self, messages: list[dict]) -> Recording | None:
        turns = [message for message in messages if message.get("role") != "system"]
        # Recordings answer a first question; a follow-up would need an answer nobody recorded.
        if len(turns) != 1 or turns[0].get("role") != "user" or not isinstance(turns[0].get("content"), str):
            return None
        index = replay_index(self.spec.params.get("results_path"))
        return index.answers.get(normalize_prompt(turns[0]["content"]), {}).get(self.spec.model_id)

    def _speed(self) -> float:
        """How many times faster than recorded; 0 or less (or infinity) replays with no waits at all."""
        speed = self.spec.params.get("speed")
        try:
            speed = float(getattr(settings, "AGORA_REPLAY_SPEED", 1.0) if speed is None else speed)
        except (TypeError, ValueError):
            raise BackendError(f"the replay speed must be a number, not {speed!r}") from None
        return speed if speed > 0 else math.inf


def _build_index(results_path: Path) -> ReplayIndex:
    folder = results_path.parent
    results = _read_jsonl(results_path)
    prompts = _read_jsonl(folder / "prompts.jsonl")
    compared_prompts, compared_models = _compared(folder / "pairs-crowd.jsonl")

    prompts = sorted(
        (
            {"id": p["id"], "slug": p.get("slug") or "", "text": p["text"], "type": p.get("type") or ""}
            for p in prompts
            if compared_prompts is None or p["id"] in compared_prompts
        ),
        key=lambda p: p["id"],
    )
    text_of = {p["id"]: normalize_prompt(p["text"]) for p in prompts}
    answers: dict[str, dict[str, Recording]] = {text: {} for text in text_of.values()}
    models: dict[str, dict] = {}
    for result in results:
        if compared_models is not None and result["model"] not in compared_models:
            continue
        name = result["name"]
        models.setdefault(name, {"name": name, "api_id": result.get("api_id") or "", "org": result.get("org") or ""})
        if result["prompt"] in text_of and result.get("result"):
            answers[text_of[result["prompt"]]][name] = Recording(result["result"], _rate(result.get("rate")))
    for model in models.values():
        model["prompts"] = sum(model["name"] in by_model for by_model in answers.values())
    return ReplayIndex(prompts=prompts, models=sorted(models.values(), key=lambda m: m["name"]), answers=answers)


def _compared(pairs_path: Path) -> tuple[set[int], set[int]] | tuple[None, None]:
    """The prompt and model ids of the crowd's comparisons; (None, None), i.e. all, without that file."""
    if not pairs_path.exists():
        return None, None
    prompts, models = set(), set()
    for pair in _read_jsonl(pairs_path):
        prompts.add(pair["prompt"])
        models.update((pair["model_x"], pair["model_y"]))
    return prompts, models


def _rate(value: float | None) -> float:
    # `not value > 0` also catches NaN.
    return DEFAULT_RATE if value is None or not value > 0 else float(value)


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        raise BackendError(f"the recorded answers cannot be replayed: {path} is missing")
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
