"""Writes of vote integrity: clearing a flag by hand, so that its judgment (or its judge's) counts again.

Flags are written where they are found (arena/services.vote_record) and never deleted: a cleared flag
stays, with who cleared it and when, as the record of that decision.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from annotation.models import IntegrityFlag, JudgeFlag


def integrity_flags_clear(*, flags: QuerySet[IntegrityFlag] | QuerySet[JudgeFlag], user) -> int:
    """Clear the flags not cleared yet; returns how many. A flag cleared already keeps its first clearing:
    the conditional UPDATE makes two staff clearing at once record one of them, not overwrite."""
    return flags.filter(cleared_at__isnull=True).update(cleared_by=user, cleared_at=timezone.now())
