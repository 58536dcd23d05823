"""Arena pages: ask, watch, vote, reveal. Thin: authorize, validate, one service call, render."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django_htmx.http import reswap, retarget

from arena import services
from arena.forms import STRENGTHS, PromptForm, VoteForm
from arena.models import Battle, BattleState
from arena.sampling import policy_description
from arena.selectors import (
    Turn,
    battle_for_judge,
    battle_turns,
    followup_offered,
    organizations,
    prompt_offer,
    sampling_report,
)
from arena.services import ArenaError, NotYours


def _judge(request: HttpRequest) -> str:
    return services.judge_label(user=request.user, voter_key=request.voter_key)


def _get_battle_for_visitor(request: HttpRequest, public_id: str) -> Battle:
    # Another visitor's battle is answered exactly like a missing one.
    battle = battle_for_judge(public_id=public_id, judge=_judge(request))
    if battle is None:
        raise Http404("No such battle.")
    return battle


def _page(battle: Battle, **extra) -> dict:
    return {
        "battle": battle,
        "strengths": STRENGTHS,
        "score_range": range(1, 8),
        "max_prompt_chars": settings.AGORA_ARENA_MAX_PROMPT_CHARS,
        "max_rationale_chars": settings.AGORA_ARENA_MAX_RATIONALE_CHARS,
        **extra,
    }


def _vote_panel(battle: Battle, **extra) -> dict:
    # Once the panel shows the reveal, the same response removes the follow-up box (out of band).
    return _page(battle, drop_followup=battle.state == BattleState.VOTED, **extra)


def _first_error(form) -> str:
    return next(iter(form.errors.values()))[0]


def index(request: HttpRequest) -> HttpResponse:
    form = PromptForm(request.POST if request.method == "POST" else None)
    error, status = "", 200
    try:
        if request.method == "POST":
            if not form.is_valid():
                raise ArenaError(_first_error(form))
            battle = services.battle_create(
                prompt=form.cleaned_data["prompt"],
                judge=_judge(request),
                user=request.user,
                client_ip=request.META.get("REMOTE_ADDR"),
            )
            return redirect("arena:battle", public_id=battle.public_id)
    except ArenaError as refused:
        error, status = refused.message, refused.status
    context = {
        "form": form,
        "error": error,
        "offer": prompt_offer(),
        "max_prompt_chars": settings.AGORA_ARENA_MAX_PROMPT_CHARS,
    }
    return render(request, "arena/index.html", context, status=status)


def battle(request: HttpRequest, public_id: str) -> HttpResponse:
    battle = _get_battle_for_visitor(request, public_id)
    turns = battle_turns(battle)
    return render(request, "arena/battle.html", _page(battle, turns=turns, followup=followup_offered(battle, turns)))


@require_POST
def turn(request: HttpRequest, public_id: str) -> HttpResponse:
    battle = _get_battle_for_visitor(request, public_id)
    form = PromptForm(request.POST)
    try:
        if not form.is_valid():
            raise ArenaError(_first_error(form))
        answers = services.turn_add(
            battle=battle,
            prompt=form.cleaned_data["prompt"],
            judge=_judge(request),
            client_ip=request.META.get("REMOTE_ADDR"),
        )
    except ArenaError as refused:
        # The message replaces the form's error paragraph, whatever the form's own swap (beforeend in #turns).
        response = render(
            request, "arena/battle.html#followup-error", {"error": refused.message}, status=refused.status
        )
        return reswap(retarget(response, "#followup-error"), "outerHTML")
    except NotYours as exc:
        raise Http404("No such battle.") from exc
    if not request.htmx:
        return redirect("arena:battle", public_id=battle.public_id)
    turn = Turn(index=answers[0].turn, prompt=answers[0].prompt, answers=answers)
    return render(request, "arena/battle.html#turn", {"battle": battle, "turn": turn})


@require_POST
def vote(request: HttpRequest, public_id: str) -> HttpResponse:
    battle = _get_battle_for_visitor(request, public_id)
    form = VoteForm(request.POST)
    try:
        if not form.is_valid():
            raise ArenaError(_first_error(form))
        judgment, _ = services.vote_record(
            battle=battle,
            judge=_judge(request),
            user=request.user,
            vote=form.vote(),
            client_ip=request.META.get("REMOTE_ADDR"),
        )
    except ArenaError as refused:
        battle = _get_battle_for_visitor(request, public_id)  # its state now, with what the panel shows
        return render(
            request, "arena/battle.html#vote-panel", _vote_panel(battle, error=refused.message), status=refused.status
        )
    except NotYours as exc:
        raise Http404("No such battle.") from exc
    if not request.htmx:
        return redirect("arena:battle", public_id=public_id)
    # Voted now, with this judgment (a retried vote gets the first one): the panel shows the reveal.
    # Set here rather than read back: the battle's models came with the lookup above.
    battle.state, battle.judgment = BattleState.VOTED, judgment
    return render(request, "arena/battle.html#vote-panel", _vote_panel(battle))


def sampling(request: HttpRequest) -> HttpResponse:
    """How pairs are drawn, and how often each model was, in public: the whole arena, or one
    organization's models (``?organization=``). ``?part=shares`` is the table alone, which the
    leaderboard page loads into itself."""
    organization = request.GET.get("organization", "")
    refusal = ""
    if organization and organization not in organizations():  # checked first: any text may come here
        organization, refusal = "", "No model of the arena belongs to that organization; showing them all."
    report = sampling_report(organization=organization or None)
    context = {"report": report, "organization": organization or "", "policy": policy_description(), "refusal": refusal}
    part = request.GET.get("part") == "shares"
    context["part"] = part
    template = "arena/sampling.html#shares" if part else "arena/sampling.html"
    return render(request, template, context, status=404 if refusal else 200)
