from __future__ import annotations

from django import forms
from django.conf import settings

from arena.services import VOTE_CHOICES, ArenaError, Vote, prompt_length_check

STRENGTHS = [
    (-3, "A much better"),
    (-2, "A better"),
    (-1, "A slightly better"),
    (0, "About the same"),
    (1, "B slightly better"),
    (2, "B better"),
    (3, "B much better"),
]
SCORES = [(n, str(n)) for n in range(1, 8)]


class PromptForm(forms.Form):
    # CharField refuses NUL ("Null characters are not allowed.") before clean_prompt runs. Emptiness and
    # moderation stay the service's checks (services.prompt_check); the length is refused here already,
    # with the service's message, so no over-long text goes further than the form.
    prompt = forms.CharField(required=False, strip=True)

    def clean_prompt(self) -> str:
        text = self.cleaned_data["prompt"]
        try:
            prompt_length_check(text)
        except ArenaError as refused:
            raise forms.ValidationError(refused.message, code="max_length") from None
        return text


class VoteForm(forms.Form):
    choice = forms.ChoiceField(
        choices=[(c, c) for c in VOTE_CHOICES], error_messages={"required": "Choose A, B, tie or both bad."}
    )
    strength = forms.TypedChoiceField(choices=STRENGTHS, coerce=int, required=False, empty_value=None)
    score_a = forms.TypedChoiceField(choices=SCORES, coerce=int, required=False, empty_value=None)
    score_b = forms.TypedChoiceField(choices=SCORES, coerce=int, required=False, empty_value=None)
    rationale = forms.CharField(required=False, strip=True)

    def clean_rationale(self) -> str:
        text = self.cleaned_data["rationale"]
        limit = settings.AGORA_ARENA_MAX_RATIONALE_CHARS
        if len(text) > limit:
            raise forms.ValidationError(
                f"That reason is {len(text):,} characters long; the limit is {limit:,}.", code="max_length"
            )
        return text

    def vote(self) -> Vote:
        data = self.cleaned_data
        return Vote(
            choice=data["choice"],
            strength=data["strength"],
            score_a=data["score_a"],
            score_b=data["score_b"],
            rationale=data["rationale"],
        )
