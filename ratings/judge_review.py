"""The review of the arena's judges (voter keys and users): five signals that a judge's votes are not
honest preferences, each a JudgeFlag with its evidence (annotation.models.JudgeFlag). While a flag is
open, boards that keep integrity leave out every vote of that judge. The statistics are in
ratings/engine/judges.py (plain numpy, shared with benchmarks/rigging.py).

- improbable: the judge's decisive votes are less likely under the latest fit than votes drawn from the
  fit would be. Per vote, the log-likelihood ℓ of what the judge chose has, under the fit, mean
  p·log p + (1−p)·log(1−p) and variance p(1−p)·(log(p/(1−p)))². A judge's z is (Σℓ − Σmean)/√Σvar,
  its one-sided p-value Φ(z); the p-values of all judges tested are corrected for their number
  (Benjamini–Hochberg), and a judge whose corrected p is below IMPROBABLE_Q is flagged.
- concentrated: one model is in far more of the judge's votes than the arena puts it in front of anyone
  (a rigger skips the battles without their model). The fit cannot see this one: a rigger who votes
  only for their model lifts it in the fit, and then their votes look probable.
- too fast: most of a judge's votes came within READ_FLOOR_MS of both answers being complete (people
  read while the answers stream, so only a vote at once, again and again, says nobody read).
- volume: more votes in one clock hour than AGORA_JUDGE_MAX_VOTES_PER_HOUR.
- shared address: a voter key among more than AGORA_JUDGE_MAX_KEYS_PER_ADDRESS that voted from one
  network address (known only as a keyed hash, arena/voters.address_pseudonym).

A judge is reviewed once it has enough votes for the signal to mean something. A kind cleared by staff
is not raised again for that judge. What this cannot see: a judge whose rigged votes agree with the fit
(a rigger lifting a model that is winning anyway), a rigger spread over many keys and addresses with few
votes each, one who votes honestly in most battles, and a slow, patient one.
"""

from __future__ import annotations

import math

import numpy as np
from django.conf import settings
from django.db import connection
from django.utils import timezone

from annotation.models import JudgeFlag, JudgeFlagKind, Outcome
from ratings.engine.judges import ReviewVotes, concentrated, improbable, shared_address, too_fast, volume
from ratings.sql import review_votes_sql


def review_votes() -> ReviewVotes:
    with connection.cursor() as cursor:
        cursor.execute(review_votes_sql())
        rows = cursor.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [()] * 7
    judge, a, b, outcome, spent, hour, address = columns
    return ReviewVotes(
        judge=np.array(judge, dtype=object),
        model_a=np.array(a, dtype=object),
        model_b=np.array(b, dtype=object),
        decisive=np.array([o in (Outcome.A, Outcome.B) for o in outcome], dtype=bool),
        a_won=np.array([o == Outcome.A for o in outcome], dtype=bool),
        time_spent_ms=np.array([np.nan if s is None else s for s in spent], dtype=float),
        hour=np.array(hour, dtype=np.int64),
        address=np.array(address, dtype=object),
    )


def judges_review(ratings: dict[str, float]) -> list[JudgeFlag]:
    """Raise the flags the votes call for now; returns the new ones. ``ratings``: the latest fit's."""
    votes = review_votes()
    found = {
        JudgeFlagKind.IMPROBABLE: improbable(votes, ratings),
        JudgeFlagKind.CONCENTRATED: concentrated(votes),
        JudgeFlagKind.TOO_FAST: too_fast(votes),
        JudgeFlagKind.VOLUME: volume(votes, settings.AGORA_JUDGE_MAX_VOTES_PER_HOUR),
        JudgeFlagKind.SHARED_ADDRESS: shared_address(votes, settings.AGORA_JUDGE_MAX_KEYS_PER_ADDRESS),
    }
    now = timezone.now()
    new = [
        JudgeFlag(judge=judge, kind=kind, evidence=_finite(evidence), created_at=now)
        for kind, judges in found.items()
        for judge, evidence in judges.items()
    ]
    # One flag per judge and kind, ever: an open one stays, a cleared one is staff's decision.
    JudgeFlag.objects.bulk_create(new, ignore_conflicts=True)
    return list(JudgeFlag.objects.filter(created_at=now))


def _finite(evidence: dict) -> dict:
    return {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in evidence.items()}
