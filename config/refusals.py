"""Every refusal says why: a 4xx answered with an empty body gets a sentence a person can act on.

Django's own refusals (``require_POST``'s 405, a ``HttpResponseBadRequest()``) carry no text, and htmx
shows a blank where the action was. Views that refuse with a message are left as they are.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from api.errors import CONTENT_TYPE as PROBLEM
from api.errors import problem_body

API_PREFIX = "/api/v1/"

REASONS = {
    400: "The request could not be understood. Reload the page and try again.",
    401: "You need to log in first.",
    403: "You may not do this.",
    404: "There is nothing here.",
    405: "This address does not take a {method} request. Use the page's own buttons and forms.",
    409: "This conflicts with the current state. Reload the page to see it.",
    413: "That was too large to send.",
    429: "Too many requests. Wait a minute and try again.",
}


def refusal_message(request: HttpRequest, status: int) -> str:
    return REASONS.get(status, "The request was refused ({status}).").format(method=request.method, status=status)


class ExplainRefusalsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith(API_PREFIX)
            and 400 <= response.status_code < 500
            and response.get("Content-Type") != PROBLEM
        ):
            # A client of the JSON API reads a problem document, also where ninja answers by itself (its 405s
            # say only "Method not allowed").
            allowed = f"; it takes {response['Allow']}" if response.has_header("Allow") else ""
            detail = f"{request.path} does not take {request.method}{allowed}."
            if response.status_code != 405:
                detail = refusal_message(request, response.status_code)
            response.content = problem_body(response.status_code, detail)
            response["Content-Type"] = PROBLEM
            return response
        if 400 <= response.status_code < 500 and not response.streaming and not response.content.strip():
            message = refusal_message(request, response.status_code)
            template = "refused.html#message" if getattr(request, "htmx", False) else "refused.html"
            response.content = render_to_string(
                template, {"message": message, "status": response.status_code}, request=request
            )
            response["Content-Type"] = "text/html; charset=utf-8"
        return response
