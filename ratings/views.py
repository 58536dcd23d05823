from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.models import Source
from annotation.selectors import pairwise_results
from ratings import charts, selectors
from ratings.boards import board_from_query
from ratings.services import run_create


def _groups(result: dict | None) -> list[dict]:
    """The mixture's groups for the page: ranking, weight and (prompt-routed) the prompts routed to each."""
    if not result or "group_rankings" not in result:
        return []
    weights = result.get("group_weights") or []
    routed = result.get("group_prompts") or []
    return [
        {"ranking": ranking, "weight": weights[k] if k < len(weights) else None,
         "routed": routed[k] if k < len(routed) else None}
        for k, ranking in enumerate(result["group_rankings"])
    ]


def leaderboard(request):
    """Anyone may read the board. A board never fitted gets its first fit queued (one at a time)."""
    board = board_from_query(request.GET)
    run = selectors.run_latest(board)
    in_flight = selectors.run_in_flight(board)
    if run is None and in_flight is None:
        in_flight = run_create(board=board, trigger="page")
    result = run.result if run else None
    context = {
        "board": board,
        "query": request.GET,
        "run": run,
        "in_flight": in_flight,
        "result": result,
        "groups": _groups(result),
        "observed": pairwise_results() if run is None else None,
        "categories": selectors.categories(),
        "sources": Source.choices,
        "chart": charts.interval_chart(result["models"]) if result and result.get("models") else None,
        "heatmap": charts.heatmap(result.get("matrices"), request.GET.get("matrix", "observed")) if result else None,
    }
    template = "ratings/leaderboard.html#fit-status" if request.htmx and request.GET.get("poll") else (
        "ratings/leaderboard.html")
    return render(request, template, context)


@staff_member_required
@require_POST
def refit(request):
    board = board_from_query(request.POST)
    if selectors.run_in_flight(board) is None:
        run_create(board=board, trigger="manual")
    return redirect(f"{request.path.rsplit('refit/', 1)[0]}?{request.POST.get('query', '')}")
