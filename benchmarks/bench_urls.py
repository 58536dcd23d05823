"""The project's URLs plus ``bench/insert``: the floor a vote is measured against.

``bench/insert`` does the least a write over HTTP can do through the same ASGI server and the
same middleware: one INSERT of one row, in autocommit, answered with two bytes. The table is
created and dropped by benchmarks/votes.py.
"""

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.urls import urlpatterns as project_urlpatterns

TABLE = "bench_insert"


@csrf_exempt
@require_POST
def insert(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} (payload) VALUES (%s)", [request.POST.get("choice", "")])
    return HttpResponse("ok")


urlpatterns = [path("bench/insert", insert), *project_urlpatterns]
