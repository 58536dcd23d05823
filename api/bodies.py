"""Request bodies are read strictly: JSON's types as they are (no 0 for false, no "3" for 3), so what the
schema says a field takes is what the server takes, and only text the database can store. Query parameters
arrive as text and stay lax (api/auth.py refuses unstorable ones)."""

from __future__ import annotations

from ninja import Schema
from pydantic import ConfigDict, model_validator

from annotation.storable import json_problem


class Body(Schema):
    model_config = ConfigDict(strict=True)

    @model_validator(mode="before")
    @classmethod
    def storable(cls, data):
        # PostgreSQL stores no NUL character and no unpaired surrogate, in text or in jsonb. ninja hands
        # its validators the body wrapped (DjangoGetter): the check reads what the client sent.
        problem = json_problem(getattr(data, "_obj", data))
        if problem:
            raise ValueError(problem)
        return data
