"""Whole answers from any backend, for work that needs the text rather than a live stream.

AI judges and generated annotation items ask models for complete answers. They use the same
backends and the process's stream loop as the arena, with the model's own time limit, and many
requests at once up to a bound, so a slow model does not hold the others back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from workers import stream_loop
from workers.backends import BackendError, Finished, ModelSpec, backend_for


@dataclass(frozen=True)
class Completion:
    text: str
    error: str = ""  # for operators: why there is no text

    @property
    def ok(self) -> bool:
        return not self.error


async def _complete(spec: ModelSpec, messages: list[dict]) -> Completion:
    parts: list[str] = []
    try:
        async with asyncio.timeout(spec.timeout_s):
            async for piece in backend_for(spec).stream(messages):
                if isinstance(piece, Finished):
                    break
                parts.append(piece)
    except TimeoutError:
        return Completion("", f"{spec.name} did not finish within {spec.timeout_s:g} s")
    except BackendError as error:
        return Completion("", f"{spec.name}: {error}")
    return Completion("".join(parts))


async def _many(jobs: list[tuple[ModelSpec, list[dict]]], concurrency: int) -> list[Completion]:
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(spec: ModelSpec, messages: list[dict]) -> Completion:
        async with gate:
            return await _complete(spec, messages)

    return list(await asyncio.gather(*(one(spec, messages) for spec, messages in jobs)))


def complete_many(jobs: list[tuple[ModelSpec, list[dict]]], *, concurrency: int = 8) -> list[Completion]:
    """One Completion per (model, messages), in order; failures are Completions with an error, never raised."""
    if not jobs:
        return []
    return stream_loop.run(_many(jobs, concurrency))
