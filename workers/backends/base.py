"""The one interface every model backend speaks: messages in, streamed text out.

A backend knows nothing of battles, Django models or Channels. The generation
service (arena/generation.py) gives it a ModelSpec and a conversation, iterates
``stream()`` and publishes what comes out. Time limits are the caller's job
(``asyncio.timeout`` around the iteration), so every backend gets the same rule.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(frozen=True)
class ModelSpec:
    """A model's serving settings, copied out of the registry (arena.models.ArenaModel)."""

    name: str
    backend: str
    # Base URL of an OpenAI-compatible API ("http://gpu-host:8000/v1"); unused by local backends.
    endpoint: str = ""
    # The remote model id, a local model directory, or the recorded model to replay.
    model_id: str = ""
    # Name of the environment variable that holds the API key (never the key itself).
    api_key_env: str = ""
    # Generation parameters: temperature, top_p, max_tokens, …
    params: dict = field(default_factory=dict)
    timeout_s: float = 120.0


@dataclass(frozen=True)
class Finished:
    """The last item a stream yields: why it stopped and how many tokens it produced."""

    finish_reason: str = "stop"
    output_tokens: int | None = None


class BackendError(Exception):
    """A model could not answer. The message is for operators; visitors see a generic one."""


class Backend:
    name: ClassVar[str]

    def __init__(self, spec: ModelSpec):
        self.spec = spec

    def can_answer(self, messages: list[dict]) -> bool:
        """Whether this model can answer this conversation at all (replay knows few prompts)."""
        return True

    def stream(self, messages: list[dict]) -> AsyncIterator[str | Finished]:
        """Yield text deltas as they are produced, then one Finished. Raise BackendError on failure."""
        raise NotImplementedError
