from __future__ import annotations

from django import forms

from arena.services import VOTE_CHOICES, Vote

STRENGTHS = [(-3, "A much better"), (-2, "A better"), (-1, "A slightly better"), (0, "About the same"),
             (1, "B slightly better"), (2, "B better"), (3, "B much better")]
SCORES = [(n, str(n)) for n in range(1, 8)]


class PromptForm(forms.Form):
    # Emptiness, length and moderation are the service's checks (services.prompt_check), in one place.
    prompt = forms.CharField(required=False, strip=True)


class VoteForm(forms.Form):
    choice = forms.ChoiceField(
        choices=[(c, c) for c in VOTE_CHOICES], error_messages={"required": "Choose A, B, tie or both bad."}
    )
    strength = forms.TypedChoiceField(choices=STRENGTHS, coerce=int, required=False, empty_value=None)
    score_a = forms.TypedChoiceField(choices=SCORES, coerce=int, required=False, empty_value=None)
    score_b = forms.TypedChoiceField(choices=SCORES, coerce=int, required=False, empty_value=None)
    rationale = forms.CharField(required=False, strip=True)

    def vote(self) -> Vote:
        data = self.cleaned_data
        return Vote(choice=data["choice"], strength=data["strength"], score_a=data["score_a"],
                    score_b=data["score_b"], rationale=data["rationale"])
