from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from annotation.models import Judgment


@login_required
def index(request):
    mine = Judgment.objects.filter(user=request.user)
    return render(request, "annotation/index.html", {"my_judgments": mine.count()})
