"""Pages that belong to no single app: the home page and the health check."""

from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render

from annotation import selectors


def home(request):
    return render(request, "home.html", {"stats": selectors.data_summary()})


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})
