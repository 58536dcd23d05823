"""A model run in this process with transformers (registry name "transformers").

The module is named ``local`` so it does not shadow the ``transformers`` package, and it imports
torch and transformers only inside functions: importing the backend registry must stay fast for
the web process, which never generates.

A loaded model is kept for the life of the process, one per directory, behind a lock so two
battles that start together do not load the same weights twice.

Answers are generated in batches. Each model has one generation thread; every answer asked for
while it is busy waits, and the next ``generate`` call serves all those waiting (with the same
generation settings) at once, left-padded, a segment of tokens at a time (see _Batcher). With
one ``generate`` thread per answer instead, 32 answers at once on an H100 shared about what one
answer gets alone, 1–2 tokens/s each: every step is a Python round trip under one GIL
(benchmarks/local_model.py). Each row's tokens are decoded and handed to its own reader's event
loop; a reader that goes away (a timeout, a cancelled battle) stops its row at the next token,
and a batch ends when no row is left, so an abandoned answer does not hold the CPU or GPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from workers.backends.base import Backend, BackendError, Finished

DEFAULT_MAX_TOKENS = 256

# One batch holds at most this many answers; the rest wait for the next.
MAX_BATCH = 64
# An idle thread woken by one answer waits this long for others asked for at the same moment (the
# two sides of battles started together), so they share the first batch instead of the second.
GATHER_S = 0.002
# A batch stops after this many tokens and takes in the answers asked for meanwhile (see _Batcher).
SEGMENT_TOKENS = 16

_batchers: dict[Path, _Batcher] = {}
_batchers_lock = threading.Lock()


def batcher_for(model_dir: str | Path) -> _Batcher:
    """The model in MODEL_DIR with its generation queue: loaded on first use, then shared."""
    path = Path(model_dir).expanduser().resolve()
    with _batchers_lock:
        if path not in _batchers:
            tokenizer, model = _load(path)
            _batchers[path] = _Batcher(tokenizer, model, name=f"generate {path.name}")
        return _batchers[path]


def load_model(model_dir: str | Path) -> tuple[Any, Any]:
    """The (tokenizer, model) in MODEL_DIR, loaded on first use and then shared."""
    batcher = batcher_for(model_dir)
    return batcher.tokenizer, batcher.model


def _load(path: Path) -> tuple[Any, Any]:
    if not path.is_dir():
        raise BackendError(f"the model directory {path} does not exist")
    # torch and transformers take seconds and hundreds of MB to import: only a worker serving a local model loads them.
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


class TransformersBackend(Backend):
    name: ClassVar[str] = "transformers"
    label: ClassVar[str] = "Local model (transformers)"

    async def stream(self, messages: list[dict]) -> AsyncIterator[str | Finished]:
        # Loading takes seconds to minutes the first time: off the event loop.
        batcher = await asyncio.to_thread(batcher_for, self.spec.model_id)
        settings = GenerationSettings.from_params(self.spec.params)
        prompt = build_prompt(batcher.tokenizer, messages)
        # add_special_tokens=False: a chat template already wrote the BOS token where the model expects it.
        ids = batcher.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        request = _Request(ids, settings, asyncio.get_running_loop())
        batcher.submit(request)
        try:
            while (item := await request.queue.get()) is not _END:
                if isinstance(item, BackendError):
                    raise item
                yield item
        finally:
            request.stop.set()
        reason = "length" if request.produced >= settings.max_new_tokens else "stop"
        yield Finished(reason, request.produced)


_END = object()  # a row's last queue item: its answer is complete


@dataclass(eq=False)
class _Request:
    """One answer asked for: its prompt, what it has generated so far, and its reader's queue."""

    ids: list[int]
    settings: GenerationSettings
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    # Set by the reader when it goes away; the row stops at the next token.
    stop: threading.Event = field(default_factory=threading.Event)
    # Written by the generation thread only.
    generated: list[int] = field(default_factory=list)
    produced: int = 0  # tokens generated, the end-of-text token included
    done: bool = False
    unreleased: list[int] = field(default_factory=list)  # tokens since the last newline, being decoded
    released: int = 0  # characters of their text already sent

    @property
    def batch_key(self) -> GenerationSettings:
        """Answers with equal keys can share a batch: the same settings but for their length."""
        return replace(self.settings, max_new_tokens=0)

    def send(self, item: object) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:
            self.stop.set()  # The loop is closed: nobody reads this row any more.

    def finish(self, item: object = _END) -> None:
        if not self.done:
            self.done = True
            self.send(item)


class _Batcher:
    """A model's generation thread: runs generate() over the answers waiting, as one batch.

    A batch runs for SEGMENT_TOKENS tokens at most; the answers not finished then go back to the
    head of the queue with what they generated, and the next batch takes them again with any
    answer asked for meanwhile. So a new answer waits at most one segment for its first token,
    however long the others are, at the price of reading each continued answer's context again
    (one forward pass over it, cheap beside the segment's token-by-token steps).

    ``hold()`` closes a gate in front of the next batch: the answers asked for meanwhile wait, and
    leave together when it opens. A benchmark starts N answers as one batch this way, and a test
    shows batching without betting on arrivals within GATHER_S.
    """

    def __init__(self, tokenizer: Any, model: Any, name: str):
        self.tokenizer = tokenizer
        self.model = model
        self.name = name
        self.pending: list[_Request] = []
        self.running: list[_Request] = []  # the batch being generated (read by tests and benchmarks)
        self.batch_sizes: Counter[int] = Counter()  # segments run, by rows (likewise)
        self.held = False  # the gate of hold(): while True, no batch starts
        self.wake = threading.Condition()
        self.thread: threading.Thread | None = None
        config = model.generation_config
        eos = config.eos_token_id if config.eos_token_id is not None else tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def submit(self, request: _Request) -> None:
        with self.wake:
            self.pending.append(request)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self.thread.start()
            self.wake.notify_all()  # the generation thread, and anyone in wait_for_waiting()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Start no batch while inside (one running finishes its segment); the first one after takes
        every answer waiting with the first one's settings, up to MAX_BATCH."""
        with self.wake:
            self.held = True
        try:
            yield
        finally:
            with self.wake:
                self.held = False
                self.wake.notify_all()

    def wait_for_waiting(self, count: int, timeout: float | None = None) -> bool:
        """Block until COUNT answers wait and no batch runs: under hold(), the next batch's rows."""
        with self.wake:
            return self.wake.wait_for(
                lambda: not self.running and sum(not r.stop.is_set() for r in self.pending) >= count, timeout
            )

    def _take(self) -> list[_Request]:
        """The next batch: the first answer waiting and those waiting with the same settings."""
        with self.wake:
            idle = False
            while True:
                self.pending = [request for request in self.pending if not request.stop.is_set()]
                if self.pending and not self.held:
                    break
                idle = True
                self.wake.wait()
            if idle:
                deadline = time.monotonic() + GATHER_S
                while (left := deadline - time.monotonic()) > 0:
                    self.wake.wait(left)
            key = self.pending[0].batch_key
            batch = [request for request in self.pending if request.batch_key == key][:MAX_BATCH]
            self.pending = [request for request in self.pending if request not in batch]
            self.running = batch
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            try:
                self._generate(batch)
            except Exception as exc:
                if len(batch) == 1:
                    batch[0].finish(_failure(exc))
                else:
                    # One bad answer (a conversation past the model's context, say) must not fail the
                    # others: each goes on alone from where it stands, and only the bad one fails.
                    for request in batch:
                        if not request.done:
                            self._alone(request)
            finally:
                with self.wake:
                    self.batch_sizes[len(batch)] += 1
                    # Unfinished answers go first next time: they were asked for before anything waiting.
                    self.pending[:0] = [request for request in batch if not request.done]
                    self.running = []
                    self.wake.notify_all()

    def _alone(self, request: _Request) -> None:
        try:
            self._generate([request])
        except Exception as exc:
            request.finish(_failure(exc))

    def _generate(self, batch: list[_Request]) -> None:
        import torch  # late, as in _load
        from transformers import StoppingCriteriaList

        contexts = [request.ids + request.generated for request in batch]
        width = max(len(context) for context in contexts)
        # Left padding: every row's next token goes in the same column.
        ids = [[self.pad_id] * (width - len(context)) + context for context in contexts]
        mask = [[0] * (width - len(context)) + [1] * len(context) for context in contexts]
        steps = min(SEGMENT_TOKENS, max(request.settings.max_new_tokens - request.produced for request in batch))
        settings = replace(batch[0].settings, max_new_tokens=steps)
        if settings.seed is not None and any(request.produced == 0 for request in batch):
            # Process-wide, and a batch samples all its rows from one stream: a seed is only a best effort.
            torch.manual_seed(settings.seed)
        with torch.inference_mode():
            self.model.generate(
                input_ids=torch.tensor(ids, device=self.model.device),
                attention_mask=torch.tensor(mask, device=self.model.device),
                streamer=_RowStreamer(batch, self.tokenizer, self.eos_ids),
                stopping_criteria=StoppingCriteriaList([_RowsStopped(batch)]),
                pad_token_id=self.pad_id,
                **settings.generate_kwargs(),
            )


def _failure(exc: Exception) -> BackendError:
    return BackendError(f"generation failed: {type(exc).__name__}: {exc}")


class _RowsStopped:
    """A stopping criterion (duck-typed for generate's StoppingCriteriaList): one flag per row."""

    def __init__(self, rows: list[_Request]):
        self.rows = rows

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch  # late, as in _load

        flags = [request.done or request.stop.is_set() for request in self.rows]
        return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)


class _RowStreamer:
    """generate()'s streamer for a batch: each row's new tokens, decoded, go to that row's reader.

    Text is released as transformers' TextStreamer releases it: up to the last space or newline,
    never a half-decoded character, so a delta never has to be taken back.
    """

    def __init__(self, rows: list[_Request], tokenizer: Any, eos_ids: set[int]):
        self.rows = rows
        self.tokenizer = tokenizer
        self.eos_ids = eos_ids
        self.prompt_seen = False

    def put(self, value: Any) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True  # generate() hands over the prompts first
            return
        for request, new in zip(self.rows, value.reshape(len(self.rows), -1).tolist(), strict=True):
            for token in new:
                if request.done:
                    break
                if request.stop.is_set():
                    request.done = True  # its reader is gone
                    break
                request.produced += 1
                ended = token in self.eos_ids  # counted, never shown or read again
                if not ended:
                    request.generated.append(token)
                    request.unreleased.append(token)
                if ended or request.produced >= request.settings.max_new_tokens:
                    self._release(request, final=True)
                    request.finish()
                    break
                self._release(request)

    def end(self) -> None:
        """The segment is over; the answers not finished keep their text for the next one."""

    def _release(self, request: _Request, final: bool = False) -> None:
        text = self.tokenizer.decode(request.unreleased, skip_special_tokens=True)
        start = request.released
        if final or text.endswith("\n"):
            delta = text[start:]
            request.unreleased, request.released = [], 0
        elif text.endswith("\ufffd"):
            return  # a character split across tokens: wait for the rest
        else:
            delta = text[start : max(start, text.rfind(" ") + 1)]
            request.released = start + len(delta)
        if delta:
            request.send(delta)
