"""The project settings form for owners: the project's fields, and its task configuration as plain fields."""

from __future__ import annotations

from django import forms

from annotation.models import Project, Role, TaskType

SCALE_LIMIT = 100
SCALE_POINTS = 11
CONFIG_FIELDS = ("attributes", "scale_low", "scale_high", "principles", "show_suggestions")


def _attributes(text: str | None) -> list[str]:
    return [a.strip() for a in (text or "").split(",") if a.strip()]


def _principles(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").splitlines() if p.strip()]


class ProjectSettingsForm(forms.ModelForm):
    # The database's ranges, as fields: their messages say what is wrong (a constraint's only names itself).
    overlap = forms.IntegerField(min_value=1, max_value=50, help_text="distinct annotators per item (1 to 50)")
    lease_seconds = forms.IntegerField(min_value=10, help_text="how long a claimed task stays reserved (10 or more)")
    gold_ratio = forms.FloatField(min_value=0, max_value=1, help_text="share of tasks drawn from gold items (0 to 1)")
    attributes = forms.CharField(
        required=False,
        help_text="Likert: the attributes, comma-separated "
        "(e.g. helpfulness, correctness, coherence, complexity, verbosity)",
    )
    # A task page shows one button per point of the scale, per attribute and candidate: keep it a scale.
    scale_low = forms.IntegerField(
        required=False, min_value=-SCALE_LIMIT, max_value=SCALE_LIMIT, help_text="Likert: the lowest score"
    )
    scale_high = forms.IntegerField(
        required=False, min_value=-SCALE_LIMIT, max_value=SCALE_LIMIT, help_text="Likert: the highest score"
    )
    principles = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), help_text="Principle checks: one principle per line"
    )
    show_suggestions = forms.BooleanField(required=False, help_text="show the AI judge's suggestion to annotators")

    class Meta:
        model = Project
        fields = ["name", "guidelines", "rationale", "overlap", "lease_seconds", "gold_ratio", "blind", "active"]
        widgets = {"guidelines": forms.Textarea(attrs={"rows": 8})}
        help_texts = {"guidelines": "Markdown", "blind": "annotators never see earlier annotations"}

    def __init__(self, *args, instance: Project, **kwargs):
        config = instance.config or {}
        scale = config.get("scale") or [None, None]
        initial = {
            "attributes": ", ".join(config.get("attributes") or []),
            "scale_low": scale[0],
            "scale_high": scale[1],
            "principles": "\n".join(config.get("principles") or []),
            "show_suggestions": bool(config.get("show_suggestions")),
        }
        super().__init__(*args, instance=instance, initial=initial, **kwargs)
        # Only the configuration the project's task type reads.
        if instance.task_type != TaskType.LIKERT:
            for name in ("attributes", "scale_low", "scale_high"):
                del self.fields[name]
        if instance.task_type != TaskType.PRINCIPLES:
            del self.fields["principles"]

    def clean(self):
        data = super().clean()
        if "scale_low" in self.fields:
            low, high = data.get("scale_low"), data.get("scale_high")
            if (low is None) != (high is None):
                self.add_error("scale_high", "Give both ends of the scale, or neither.")
            elif low is not None and high is not None and low >= high:
                self.add_error("scale_high", "The highest score must be above the lowest.")
            elif low is not None and high is not None and high - low + 1 > SCALE_POINTS:
                self.add_error("scale_high", f"A scale has at most {SCALE_POINTS} points.")
            if not _attributes(data.get("attributes")):
                self.add_error("attributes", "Name at least one attribute.")
        if "principles" in self.fields and not _principles(data.get("principles")):
            self.add_error("principles", "Write at least one principle.")
        return data

    def changes(self) -> dict:
        """The fields to save: the model's, and ``config`` with the task type's keys replaced."""
        data = self.cleaned_data
        values = {name: data[name] for name in self.Meta.fields}
        config = dict(self.instance.config or {})
        config["show_suggestions"] = data["show_suggestions"]
        if "attributes" in self.fields:
            config["attributes"] = _attributes(data["attributes"])
            if data["scale_low"] is not None:
                config["scale"] = [data["scale_low"], data["scale_high"]]
        if "principles" in self.fields:
            config["principles"] = _principles(data["principles"])
        values["config"] = config
        return values


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)


class ItemsUploadForm(forms.Form):
    file = forms.FileField(
        help_text="JSONL, JSON or CSV: prompt (or messages) and candidates; optional id, category, language, gold"
    )


class ItemsFromBattlesForm(forms.Form):
    limit = forms.IntegerField(min_value=1, max_value=10000, initial=100, help_text="arena battles to add")
    category = forms.CharField(required=False, max_length=100)
