"""/api/v1/ratings: the boards, a board's latest fit (the JSON of ``fit_ratings --output``), and a refit.

A board is named by its switches (ratings/boards.py), given as query parameters. Reading never starts a
fit; staff ask for one with a refit, and follow it by reading the board until ``run`` changes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Field, Query, Router, Schema, Status

from annotation.models import Source
from api.auth import caller
from api.errors import PROBLEMS, ApiError
from ratings import selectors
from ratings.boards import Board, scheduled_boards
from ratings.engine.methods import CI_METHODS, METHODS, MIXTURE_MODES
from ratings.models import RatingRun, RunState
from ratings.services import run_create

router = Router(tags=["ratings"])
BOARD_KEY_LENGTH = RatingRun._meta.get_field("board").max_length


class BoardQuery(Schema):
    method: Literal[tuple(METHODS)] = "bt"  # type: ignore[valid-type]
    style: bool = False
    category: str = Field("", max_length=100)
    source: Literal[("", *Source.values)] = ""  # type: ignore[valid-type]
    graded: bool = False
    baseline: str = Field("", max_length=200)
    groups: int = Field(0, ge=0, le=20)
    mixture_mode: Literal[tuple(MIXTURE_MODES)] = "auto"  # type: ignore[valid-type]
    bootstrap: int = Field(100, ge=0, le=1000)
    ci: Literal[tuple(CI_METHODS)] = "bootstrap"  # type: ignore[valid-type]
    integrity: bool = True


class BoardOut(Schema):
    key: str
    board: dict
    scheduled: bool
    latest_run: int | None
    fitted_at: datetime | None
    judgments: int | None


class RunOut(Schema):
    run: int
    board: str
    state: str
    progress: float


def _board(query: BoardQuery) -> Board:
    board = Board(**query.model_dump())
    if len(board.key) > BOARD_KEY_LENGTH:
        raise ApiError(422, f"These switches name a board of more than {BOARD_KEY_LENGTH} characters; shorten them.")
    return board


@router.get("/boards", response={200: list[BoardOut], **PROBLEMS}, summary="The boards kept current, and fitted ones")
def boards_list(request):
    caller(request)
    scheduled = {b.key: b for b in scheduled_boards()}
    done = RatingRun.objects.filter(state=RunState.DONE).order_by("board", "-id").distinct("board")
    latest = {run.board: run for run in done[:200]}
    keys = list(scheduled) + sorted(set(latest) - set(scheduled))
    rows = []
    for key in keys:
        run = latest.get(key)
        rows.append(
            {
                "key": key,
                "board": scheduled[key].as_dict() if key in scheduled else (run.parameters if run else {}),
                "scheduled": key in scheduled,
                "latest_run": run.pk if run else None,
                "fitted_at": run.finished_at if run else None,
                "judgments": run.judgments if run else None,
            }
        )
    return rows


@router.get("/board", response={200: dict, **PROBLEMS}, summary="A board's latest fit (fit_ratings --output's JSON)")
def board_read(request, query: Query[BoardQuery]):
    caller(request)
    board = _board(query)
    run = selectors.run_latest(board)
    if run is None or not run.result:
        raise ApiError(404, f"The board {board.key!r} has no fit yet; staff may ask for one (POST …/board/refit).")
    return selectors.fit_document(run)


@router.post("/board/refit", response={202: RunOut, **PROBLEMS}, summary="Ask for a fit of a board (staff)")
def board_refit(request, query: Query[BoardQuery]):
    caller(request).require_staff()
    board = _board(query)
    run = selectors.run_in_flight(board) or run_create(board=board, trigger="manual")
    return Status(202, {"run": run.pk, "board": run.board, "state": run.state, "progress": run.progress})
