from django.shortcuts import render

from annotation.selectors import pairwise_results


def leaderboard(request):
    return render(request, "ratings/leaderboard.html", {"rows": pairwise_results()})
