"""Model backends: the registry that turns a ModelSpec into something that streams an answer.

Importing this package imports no torch or transformers (the transformers backend imports them
inside its methods), so the web process, which only needs BACKEND_CHOICES, starts fast.
"""

from __future__ import annotations

from workers.backends.base import Backend, BackendError, Finished, ModelSpec
from workers.backends.local import TransformersBackend
from workers.backends.openai import OpenAIBackend
from workers.backends.replay import ReplayBackend

BACKENDS: dict[str, type[Backend]] = {
    backend.name: backend for backend in (OpenAIBackend, TransformersBackend, ReplayBackend)
}

# For ArenaModel.backend's choices.
BACKEND_CHOICES: list[tuple[str, str]] = [(name, backend.label) for name, backend in BACKENDS.items()]


def backend_for(spec: ModelSpec) -> Backend:
    """A backend for SPEC. Cheap: what is costly to make (sessions, loaded weights) is shared per process."""
    try:
        backend = BACKENDS[spec.backend]
    except KeyError:
        raise BackendError(
            f"model {spec.name!r} names an unknown backend {spec.backend!r}; known: {', '.join(BACKENDS)}"
        ) from None
    return backend(spec)


__all__ = ["BACKENDS", "BACKEND_CHOICES", "Backend", "BackendError", "Finished", "ModelSpec", "backend_for"]
