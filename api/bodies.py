"""Request bodies are read strictly: JSON's types as they are (no 0 for false, no "3" for 3), so what the
schema says a field takes is what the server takes, and only text the database can store. Query parameters
arrive as text and stay lax (api/auth.py refuses unstorable ones)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from ninja import Schema
from pydantic import ConfigDict, model_validator

from annotation.storable import json_problem
from api.errors import ApiError


class Body(Schema):
    model_config = ConfigDict(strict=True)

    @model_validator(mode="before")
    @classmethod
    def storable(cls, data):
        # PostgreSQL stores no NUL character and no unpaired surrogate, in text or in jsonb. ninja hands
        # its validators the body wrapped (DjangoGetter): the check reads what the client sent.
        sent = getattr(data, "_obj", data)
        if not isinstance(sent, dict):
            raise ValueError("the body must be a JSON object")
        problem = json_problem(sent)
        if problem:
            raise ValueError(problem)
        return data


# A pushed body is read as a stream, never through Django's request.body (and its upload limit): this caps it.
MAX_STREAMED_BYTES = 256 * 1024 * 1024
_IN_MEMORY = 8 * 1024 * 1024
_CHUNK = 1024 * 1024


@contextmanager
def spooled_body(request, max_bytes: int | None = None) -> Iterator:
    """The request's body in a seekable file (memory, then disk past 8 MB), refused whole past ``max_bytes``
    (MAX_STREAMED_BYTES unless given; by its Content-Length before reading, or as it arrives)."""
    max_bytes = max_bytes or MAX_STREAMED_BYTES
    too_big = ApiError(413, f"The body is over {max_bytes // 2**20} MB; send it in parts.")
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_big
    with tempfile.SpooledTemporaryFile(max_size=_IN_MEMORY) as body:
        size = 0
        while chunk := request.read(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise too_big
            body.write(chunk)
        body.seek(0)
        yield body
