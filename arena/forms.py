from __future__ import annotations

from django import forms
from django.conf import settings

from arena.services import VOTE_CHOICES, Vote

STRENGTHS = [(-3, "A much better"), (-2, "A better"), (-1, "A slightly better"), (0, "About the same"),
             (1, "B slightly better"), (2, "B better"), (3, "B much better")]
SCORES = [(n, str(n)) for n in range(1, 8)]


class PromptForm(forms.Form):
    prompt = forms.CharField(strip=True, error_messages={"required": "Type a prompt first."})

    def clean_prompt(self) -> str:
        # The service checks the length too; here it gets a message before any work is done.
        prompt = self.cleaned_data["prompt"]
        limit = settings.AGORA_ARENA_MAX_PROMPT_CHARS
        if len(prompt) > limit:
            raise forms.ValidationError(f"That prompt is {len(prompt):,} characters long; the limit is {limit:,}.")
        return prompt


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
