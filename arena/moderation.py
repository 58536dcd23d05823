"""The moderation hook: a callable named by ``AGORA_MODERATION``.

It gets the visitor's text and returns None to let it through, or a reason the
visitor reads. Operators plug in their own (a classifier, an external API);
the default refuses prompts containing words from ``AGORA_MODERATION_BLOCKLIST``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.utils.module_loading import import_string

Moderator = Callable[[str], "str | None"]


def allow_all(text: str) -> str | None:
    return None


def blocklist(text: str) -> str | None:
    words = settings.AGORA_MODERATION_BLOCKLIST
    if not words:
        return None
    lowered = text.lower()
    for word in words:
        if re.search(rf"\b{re.escape(word.lower())}\b", lowered):
            return "This prompt was refused by the arena's content policy."
    return None


def moderate(text: str) -> str | None:
    moderator: Moderator = import_string(settings.AGORA_MODERATION)
    return moderator(text)
