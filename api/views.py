"""The page where people create and revoke their API tokens. A new token is shown once, on the response
to the form that created it; only its digest is kept."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from api.forms import TokenForm
from api.models import ApiToken
from api.tokens import TokenError, token_create, token_revoke


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
                return _page(request, TokenForm(user=request.user), created=raw)
        return _page(request, form, status=400)
    return _page(request, form)


@login_required
@require_POST
def revoke(request, token_id: int):
    token_revoke(user=request.user, token_id=token_id)
    return redirect("api:tokens")
