"""Writes for the ratings: create a run, execute it (read, fit, store), decide when a refresh is due."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotation import live
from annotation.models import JudgeFlag, SamplingEstimate, Source
from ratings import selectors
from ratings.boards import Board, scheduled_boards
from ratings.embeddings import cached_prompt_embeddings
from ratings.engine import summaries
from ratings.engine.leaderboard import rate
from ratings.engine.methods import Prompts
from ratings.engine.result import RatingResult
from ratings.engine.votes import RatingError
from ratings.judge_review import judges_review
from ratings.models import RatingRun, RunState
from ratings.sql import SOURCES

# The Celery task that fits a run (ratings.tasks.fit_ratings). It is sent by name: the tasks import this
# module, and this module does not import them back.
FIT_TASK = "ratings.fit"


def run_create(*, board: Board, trigger: str, enqueue: bool = True) -> RatingRun:
    """A queued run; with ``enqueue`` the Celery task is sent once the row is committed."""
    run = RatingRun.objects.create(board=board.key, parameters=board.as_dict(), trigger=trigger)
    if enqueue:
        transaction.on_commit(lambda: current_app.send_task(FIT_TASK, args=[run.pk]))
    live.fit_queued(run.board, run.pk)
    return run


def _claim(run_id: int) -> bool:
    # Conditional UPDATE: two workers handed the same run (a redelivered task) fit it once.
    return bool(
        RatingRun.objects.filter(pk=run_id, state=RunState.QUEUED).update(
            state=RunState.RUNNING, started_at=timezone.now()
        )
    )


def _progress(run: RatingRun):
    last = [0.0]

    def report(fraction: float) -> None:
        # At most ~20 writes a run: enough for a progress bar, not a load on the database.
        if fraction - last[0] >= 0.05 or fraction >= 1.0:
            last[0] = fraction
            RatingRun.objects.filter(pk=run.pk).update(progress=min(1.0, fraction))
            live.fit_progress(run.board, run.pk, min(1.0, fraction))

    return report


def bias_panel(loaded: selectors.LoadedVotes) -> dict:
    votes = loaded.votes
    decisive = (~votes.tie) & ((votes.y == 0.0) | (votes.y == 1.0)) & (loaded.first_shown >= 0)
    first_won = np.where(loaded.first_shown == 0, votes.y == 1.0, votes.y == 0.0)[decisive]
    groups = np.array([SOURCES[s] if s >= 0 else "?" for s in loaded.source[decisive]], dtype=object)
    return {
        "position": summaries.position_bias(first_won.astype(float), groups),
        "length": summaries.length_bias(votes.extra["tokens_a"], votes.extra["tokens_b"], votes.y),
        "ties": selectors.judge_tie_rates(),
    }


def run_execute(run_id: int) -> RatingRun:
    """Fit the run's board on the judgments as they are now and store the result (or the error)."""
    if not _claim(run_id):
        return RatingRun.objects.get(pk=run_id)
    run = RatingRun.objects.get(pk=run_id)
    board = Board.from_dict(run.parameters)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    try:
        if board.integrity:
            run.integrity_left_out = selectors.integrity_left_out(board)
        loaded = selectors.votes_load(board)
        timings["read_s"] = round(time.perf_counter() - started, 4)
        report = _progress(run)
        prompts = None
        if board.method == "mixture" and board.mixture_mode == "context" and len(loaded.votes):
            embed_started = time.perf_counter()
            prompts = prompts_load(board, loaded)
            timings["embed_s"] = round(time.perf_counter() - embed_started, 4)
        fit_started = time.perf_counter()
        result = _fit(board, loaded, report, prompts)
        timings["fit_s"] = round(time.perf_counter() - fit_started, 4)
        if len(loaded.votes):
            result = replace(result, bias=bias_panel(loaded))
    except RatingError as error:
        return _finish(run, started, timings, state=RunState.FAILED, error=str(error))
    except Exception as error:  # the run must not stay "running" whatever went wrong
        _finish(run, started, timings, state=RunState.FAILED, error=f"the fit failed: {error!r}")
        raise
    run = _finish(run, started, timings, state=RunState.DONE, result=result, loaded=loaded)
    if board.key == scheduled_boards()[0].key:
        estimates_publish(result, run.finished_at)
    return run


def estimates_publish(result: RatingResult, fitted_at) -> None:
    """The main board's standings, for the arena's pair sampling (annotation.models.SamplingEstimate)."""
    with transaction.atomic():
        SamplingEstimate.objects.all().delete()
        SamplingEstimate.objects.bulk_create(
            SamplingEstimate(
                model=m.model, rating=m.rating, lower=m.lower, upper=m.upper, battles=m.battles, fitted_at=fitted_at
            )
            for m in result.models
        )


def prompts_load(board: Board, loaded: selectors.LoadedVotes) -> Prompts:
    """Each vote's prompt and one embedding per distinct prompt (stored ones reused), for the prompt-routed
    mixture; at most AGORA_MIXTURE_MAX_PROMPTS distinct prompts."""
    found = selectors.vote_prompts(loaded.comparison, limit=settings.AGORA_MIXTURE_MAX_PROMPTS, category=board.category)
    return Prompts(found.texts, cached_prompt_embeddings(found.texts), found.rows)


def _fit(board: Board, loaded: selectors.LoadedVotes, report, prompts: Prompts | None = None) -> RatingResult:
    votes = loaded.votes
    return rate(
        votes,
        method=board.method,
        bootstrap=board.bootstrap,
        ci=board.ci,
        use_style=board.style,
        baseline=board.baseline or None,
        groups=board.groups,
        mixture_mode=board.mixture_mode,
        prompts=prompts,
        length=votes.extra.get("length"),
        progress=report,
    )


def _finish(
    run: RatingRun,
    started: float,
    timings: dict,
    *,
    state: str,
    result: RatingResult | None = None,
    error: str = "",
    loaded: selectors.LoadedVotes | None = None,
) -> RatingRun:
    store_started = time.perf_counter()
    run.state = state
    run.result = None if result is None else result.to_dict()
    run.error = error
    run.progress = 1.0 if state == RunState.DONE else run.progress
    if loaded is not None:
        run.judgments = len(loaded.votes)
        run.last_judgment_id = loaded.last_judgment_id
    run.finished_at = timezone.now()
    # One commit: a reader never sees the run done without its duration.
    with transaction.atomic():
        run.save()
        # The store's own time is known only once it is done: a second, tiny update records it.
        timings["store_s"] = round(time.perf_counter() - store_started, 4)
        run.timings = timings
        run.duration_ms = int((time.perf_counter() - started) * 1000)
        RatingRun.objects.filter(pk=run.pk).update(timings=timings, duration_ms=run.duration_ms)
    live.fit_finished(run.board, run.pk)  # a failed fit too: the open pages stop showing it as running
    return run


REVIEW_BOARD = Board(source=Source.ARENA, ci="none")


def judges_review_latest() -> list[JudgeFlag]:
    """Review the arena's judges against a fit of the arena's own votes (imported and AI judgments would
    make an arena voter who disagrees with them look improbable), the flagged judges' left out. One fit
    per review, a point estimate: it costs a second at a million votes. Returns the flags raised."""
    loaded = selectors.votes_load(REVIEW_BOARD)
    ratings = {m.model: m.rating for m in _fit(REVIEW_BOARD, loaded, None).models} if len(loaded.votes) else {}
    return judges_review(ratings)


def refresh_due(*, now=None) -> list[RatingRun]:
    """Queue a fit of each scheduled board that is stale: AGORA_RATINGS_EVERY_JUDGMENTS new judgments
    since its last fit, or AGORA_RATINGS_INTERVAL_S elapsed with anything new. Never two at once per board."""
    now = now or timezone.now()
    queued = []
    for board in scheduled_boards():
        if selectors.run_in_flight(board):
            continue
        last = RatingRun.objects.filter(board=board.key, state__in=[RunState.DONE, RunState.FAILED]).first()
        new = selectors.judgments_since(last.last_judgment_id if last else None)
        if board.integrity and last is not None:
            # A flag cleared since the last fit read the votes puts its judgment back, and a judge flagged
            # since takes theirs out: either is as good as a new judgment.
            new += selectors.integrity_cleared_since(last.started_at) + selectors.judges_flagged_since(last.started_at)
        if new == 0:
            continue
        age = (now - last.finished_at).total_seconds() if last and last.finished_at else float("inf")
        if new >= settings.AGORA_RATINGS_EVERY_JUDGMENTS or age >= settings.AGORA_RATINGS_INTERVAL_S:
            queued.append(run_create(board=board, trigger="judgments" if last else "schedule"))
    return queued
