from dataclasses import replace

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.models import Source
from annotation.selectors import pairwise_results
from ratings import charts, selectors
from ratings.boards import Board, board_from_query
from ratings.engine.result import RatingResult
from ratings.services import run_create


def _groups(result: RatingResult | None) -> list[dict]:
    """The mixture's groups for the page: ranking, weight and (prompt-routed) the prompts routed to each."""
    if result is None or result.mixture is None:
        return []
    weights = result.mixture.group_weights
    routed = result.mixture.group_prompts or []
    return [
        {
            "ranking": ranking,
            "weight": weights[k] if k < len(weights) else None,
            "routed": routed[k] if k < len(routed) else None,
        }
        for k, ranking in enumerate(result.mixture.group_rankings)
    ]


def _known_board(query) -> tuple[Board, str]:
    """The board the query names, or the nearest one (all categories) when its category has no judgments;
    a page view must not queue a fit for any text a visitor types. The second value says what was refused."""
    board = board_from_query(query)
    if board.category and not selectors.category_known(board.category):
        return replace(board, category=""), "No judgments have that category; showing all categories."
    return board, ""


def leaderboard(request):
    """Anyone may read the board. A board never fitted gets its first fit queued (one at a time)."""
    board, refusal = _known_board(request.GET)
    run = selectors.run_latest(board)
    in_flight = selectors.run_in_flight(board)
    if run is None and in_flight is None:
        in_flight = run_create(board=board, trigger="page")
    result = RatingResult.from_dict(run.result) if run and run.result else None
    query = request.GET.copy()
    query.pop("partial", None)
    if refusal:
        query.pop("category", None)  # the links and the live socket follow the board shown
    context = {
        "board": board,
        "refusal": refusal,
        "query": query,
        "run": run,
        "votes_since": selectors.judgments_since(run.last_judgment_id) if run else 0,
        "in_flight": in_flight,
        "result": result,
        "groups": _groups(result),
        "observed": pairwise_results() if run is None else None,
        "categories": selectors.categories(),
        "sources": Source.choices,
        "chart": charts.interval_chart(result.models) if result and result.models else None,
        "heatmap": charts.heatmap(result.matrices, request.GET.get("matrix", "observed")) if result else None,
    }
    # The open page fetches its board part alone when its socket says a fit landed (leaderboard.js).
    template = "ratings/leaderboard.html#board" if request.GET.get("partial") == "board" else "ratings/leaderboard.html"
    return render(request, template, context, status=404 if refusal else 200)


@staff_member_required
@require_POST
def refit(request):
    board, refusal = _known_board(request.POST)
    if refusal:
        raise Http404(refusal)
    if selectors.run_in_flight(board) is None:
        run_create(board=board, trigger="manual")
    return redirect(f"{request.path.rsplit('refit/', 1)[0]}?{request.POST.get('query', '')}")
