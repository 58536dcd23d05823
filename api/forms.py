from __future__ import annotations

from django import forms

from annotation.models import Membership, Project
from annotation.storable import StorableTextValidator
from api.models import Scope


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, validators=[StorableTextValidator()], help_text="what it is for, e.g. 'training pipeline'"
    )
    scope = forms.ChoiceField(choices=Scope.choices, initial=Scope.READ)
    projects = forms.ModelMultipleChoiceField(
        queryset=Project.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="none ticked: every project you may use",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        mine = (
            Project.objects.all()
            if user.is_staff
            else Project.objects.filter(pk__in=Membership.objects.filter(user=user).values("project_id"))
        )
        self.fields["projects"].queryset = mine.order_by("name")
