from django.shortcuts import render

from annotation.models import Judgment, Source


def index(request):
    votes = Judgment.objects.filter(source=Source.ARENA).count()
    return render(request, "arena/index.html", {"arena_votes": votes})
