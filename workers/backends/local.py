"""A model run in this process with transformers (registry name "transformers").

The module is named ``local`` so it does not shadow the ``transformers`` package, and it imports
torch and transformers only inside functions: importing the backend registry must stay fast for
the web process, which never generates.

A loaded model is kept for the life of the process, one per directory, behind a lock so two
battles that start together do not load the same weights twice. ``generate`` runs in a thread
of its own and hands text to the event loop through transformers' AsyncTextIteratorStreamer; a
threading.Event, checked after every token, stops it when the reader goes away (a timeout, a
cancelled battle), so an abandoned generation does not hold the CPU or GPU.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from workers.backends.base import Backend, BackendError, Finished

DEFAULT_MAX_TOKENS = 256

_models: dict[Path, tuple[Any, Any]] = {}
_models_lock = threading.Lock()


def load_model(model_dir: str | Path) -> tuple[Any, Any]:
    """The (tokenizer, model) in MODEL_DIR, loaded on first use and then shared."""
    path = Path(model_dir).expanduser().resolve()
    with _models_lock:
        if path not in _models:
            _models[path] = _load(path)
        return _models[path]


def _load(path: Path) -> tuple[Any, Any]:
    if not path.is_dir():
        raise BackendError(f"the model directory {path} does not exist")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        # local_files_only: a typo in a path must fail here, never turn into a download from the Hub.
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    except Exception as exc:  # transformers raises OSError, ValueError, KeyError… for a bad directory
        raise BackendError(f"cannot load a model from {path}: {exc}") from exc
    model.to("cuda" if torch.cuda.is_available() else "cpu")
    model.eval()
    return tokenizer, model


def build_prompt(tokenizer: Any, messages: list[dict]) -> str:
    """The conversation as the model was trained to read it: its chat template, or plain role lines."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    lines = [f"{message['role'].capitalize()}: {message['content']}" for message in messages]
    return "\n".join(lines + ["Assistant:"])


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float = 0.0
    top_p: float | None = None
    seed: int | None = None

    @classmethod
    def from_params(cls, params: dict) -> GenerationSettings:
        try:
            return cls(
                max_new_tokens=int(params.get("max_tokens") or DEFAULT_MAX_TOKENS),
                temperature=float(params.get("temperature") or 0.0),
                top_p=None if params.get("top_p") is None else float(params["top_p"]),
                seed=None if params.get("seed") is None else int(params["seed"]),
            )
        except (TypeError, ValueError) as exc:
            raise BackendError(f"bad generation parameters {params!r}: {exc}") from exc

    def generate_kwargs(self) -> dict:
        if self.temperature <= 0:
            return {"max_new_tokens": self.max_new_tokens, "do_sample": False}
        kwargs = {"max_new_tokens": self.max_new_tokens, "do_sample": True, "temperature": self.temperature}
        if self.top_p is not None:
            kwargs["top_p"] = self.top_p
        return kwargs


class StopWhenSet:
    """A stopping criterion (duck-typed for generate's StoppingCriteriaList): stop once EVENT is set."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


class TransformersBackend(Backend):
    name: ClassVar[str] = "transformers"
    label: ClassVar[str] = "Local model (transformers)"

    async def stream(self, messages: list[dict]) -> AsyncIterator[str | Finished]:
        from transformers import AsyncTextIteratorStreamer

        # Loading takes seconds to minutes the first time: off the event loop.
        tokenizer, model = await asyncio.to_thread(load_model, self.spec.model_id)
        generation = GenerationSettings.from_params(self.spec.params)
        # add_special_tokens=False: a chat template already wrote the BOS token where the model expects it.
        encoded = tokenizer(build_prompt(tokenizer, messages), return_tensors="pt", add_special_tokens=False)
        # Only these two: some tokenizers add token_type_ids, which decoder models' generate() rejects.
        inputs = {name: encoded[name].to(model.device) for name in ("input_ids", "attention_mask")}
        streamer = AsyncTextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        stop = threading.Event()
        job = _GenerationJob(model, streamer, asyncio.get_running_loop())
        kwargs = {
            **inputs,
            **generation.generate_kwargs(),
            "streamer": streamer,
            "stopping_criteria": [StopWhenSet(stop)],
            "pad_token_id": tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
        }
        threading.Thread(
            target=job.run, args=(kwargs, generation.seed), name=f"generate {self.spec.name}", daemon=True
        ).start()
        try:
            async for text in streamer:
                if text:
                    yield text
            output_ids = await job.result
        finally:
            stop.set()
        produced = output_ids.shape[-1] - inputs["input_ids"].shape[-1]
        yield Finished("length" if produced >= generation.max_new_tokens else "stop", produced)


class _GenerationJob:
    """generate() in a thread; its output ids or its exception come back through an asyncio future."""

    def __init__(self, model: Any, streamer: Any, loop: asyncio.AbstractEventLoop):
        self.model = model
        self.streamer = streamer
        self.loop = loop
        self.result: asyncio.Future = loop.create_future()

    def run(self, kwargs: dict, seed: int | None) -> None:
        import torch
        from transformers import StoppingCriteriaList

        try:
            if seed is not None:
                # Process-wide: with several generations at once, a seed is only a best effort.
                torch.manual_seed(seed)
            with torch.inference_mode():
                kwargs["stopping_criteria"] = StoppingCriteriaList(kwargs["stopping_criteria"])
                output = self.model.generate(**kwargs)
        except Exception as exc:
            self._settle(error=BackendError(f"generation failed: {type(exc).__name__}: {exc}"))
        else:
            self._settle(output=output)

    def _settle(self, output: Any = None, error: BackendError | None = None) -> None:
        def settle() -> None:
            if error is not None:
                # generate() never reached streamer.end(): end the reader's loop so it sees the error.
                self.streamer.text_queue.put_nowait(self.streamer.stop_signal)
            if not self.result.done():
                if error is not None:
                    self.result.set_exception(error)
                else:
                    self.result.set_result(output)

        try:
            self.loop.call_soon_threadsafe(settle)
        except RuntimeError:
            pass  # The loop is closed: the reader is gone, nobody waits for this result.
