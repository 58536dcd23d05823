"""The page where people create and revoke their API tokens. A new token is shown once, on the page the
form that created it leads to; only its digest is kept."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from api.forms import TokenForm
from api.models import ApiToken
from api.tokens import TokenError, token_create, token_revoke

NEW_TOKEN = "api_new_token"


def _page(request, form, *, created: str = "", status: int = 200):
    tokens = ApiToken.objects.filter(user=request.user).prefetch_related("projects")
    context = {"form": form, "tokens": tokens, "created": created}
    return render(request, "api/tokens.html", context, status=status)


@never_cache  # the response may hold a new token: no cache keeps it
@login_required
def tokens(request):
    form = TokenForm(request.POST or None, user=request.user)
    if request.method == "POST":
        if form.is_valid():
            try:
                _, raw = token_create(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    scope=form.cleaned_data["scope"],
                    projects=[p.slug for p in form.cleaned_data["projects"]],
                )
            except TokenError as error:
                form.add_error(None, str(error))
            else:
                # Post/redirect/get, so a reload cannot make a second token; the session carries the text to
                # the next page, which shows it once and forgets it.
                request.session[NEW_TOKEN] = raw
                return redirect("api:tokens")
        return _page(request, form, status=400)
    return _page(request, form, created=request.session.pop(NEW_TOKEN, ""))


@login_required
@require_POST
def revoke(request, token_id: int):
    token_revoke(user=request.user, token_id=token_id)
    return redirect("api:tokens")
