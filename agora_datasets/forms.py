"""The export request form, shared by the staff page and a project owner's page."""

from __future__ import annotations

from django import forms

from agora_datasets.exports.formats import FORMAT_NAMES, TIES
from agora_datasets.exports.writers import FILE_FORMATS
from annotation.models import Project, Source


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=[(f, f) for f in FORMAT_NAMES], initial="trl-preference")
    file_format = forms.ChoiceField(choices=[(f, f) for f in FILE_FORMATS], initial="jsonl")
    source = forms.MultipleChoiceField(choices=Source.choices, required=False, widget=forms.CheckboxSelectMultiple)
    since = forms.DateField(required=False, help_text="created on or after (UTC)")
    until = forms.DateField(required=False, help_text="created before (UTC)")
    model = forms.CharField(required=False, help_text="only comparisons with this model")
    category = forms.CharField(required=False)
    min_agreement = forms.FloatField(
        required=False, min_value=0, max_value=1, help_text="keep items whose majority outcome has at least this share"
    )
    test_share = forms.FloatField(
        required=False,
        min_value=0,
        max_value=0.9,
        initial=0.0,
        help_text="share of prompts in a test split (no prompt in both)",
    )
    ties = forms.ChoiceField(choices=[(t, t) for t in TIES], initial="drop")
    margin = forms.BooleanField(required=False, help_text="trl-preference: a margin column")
    rationales = forms.BooleanField(required=False)
    release = forms.BooleanField(required=False, help_text="drop the fields projects mark private")

    def __init__(self, *args, project: Project | None = None, staff: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        if staff and project is None:
            self.fields["project"] = forms.ModelChoiceField(
                queryset=Project.objects.all(), required=False, to_field_name="slug", empty_label="all judgments"
            )

    def params(self) -> dict:
        data = dict(self.cleaned_data)
        chosen = data.pop("project", None)
        data["project"] = self.project.slug if self.project else (chosen.slug if chosen else None)
        for key in ("model", "category"):
            data[key] = [data[key]] if data.get(key) else []
        for key in ("since", "until"):
            data[key] = data[key].isoformat() if data.get(key) else None
        return data
