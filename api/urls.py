from django.urls import path, re_path

from api import views
from api.errors import problem_response
from api.main import api

app_name = "api"

urlpatterns = [
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.revoke, name="revoke"),
]


def api_not_found(request, rest: str = ""):
    """Any other path under /api/v1/: a problem document, not the site's HTML 404 page."""
    return problem_response(404, f"No API operation at {request.path}; see /api/v1/docs.")


# The versioned API itself (its own namespace, api-v1), mounted by config/urls.py beside these pages; its
# last pattern answers every other path under it.
_patterns, _app_name, _namespace = api.urls
api_urls = ([*_patterns, re_path(r"^(?P<rest>(?s:.*))$", api_not_found, name="not_found")], _app_name, _namespace)
