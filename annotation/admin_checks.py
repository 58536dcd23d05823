"""The admin's forms hold to the same rule as the app's: what the database cannot store is refused with a
message, never a 500. Every ModelAdmin and inline of the app derives from these.

Django's admin trusts two things a tampered or careless request can break: the row ids an action is
applied to, and JSON fields (jsonb holds no NUL, no unpaired surrogate and no infinity, and an emptied
field of a column that is not nullable would be saved as NULL).
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db import connection, models

from annotation.storable import json_problem, surrogate_free


class StorableJSONField(forms.JSONField):
    def __init__(self, *, when_empty=None, **kwargs):
        super().__init__(**kwargs)
        self.when_empty = when_empty  # the column's default, for a column that cannot be NULL

    def prepare_value(self, value):
        # A refused value is shown again as typed; JSON's escapes keep an unpaired surrogate printable.
        text = super().prepare_value(value)
        return text if not isinstance(text, str) or surrogate_free(text) else json.dumps(value)

    def clean(self, value):
        data = super().clean(value)
        if data is None and self.when_empty is not None:
            return self.when_empty()
        problem = json_problem(data)
        if problem:
            raise ValidationError(f"This JSON cannot be stored: {problem}.")
        return data


def _json_formfield(db_field: models.JSONField, kwargs: dict) -> dict:
    kwargs["form_class"] = StorableJSONField
    if not db_field.null:
        kwargs["when_empty"] = db_field._get_default
    return kwargs


class CheckedModelAdmin(admin.ModelAdmin):
    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.JSONField):
            kwargs = _json_formfield(db_field, kwargs)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def response_action(self, request, queryset):
        key = self.model._meta.pk
        low, high = connection.ops.integer_field_range(key.get_internal_type())
        try:
            selected = [key.to_python(value) for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)]
        except ValidationError:
            selected = None
        if selected is None or any(not low <= value <= high for value in selected if isinstance(value, int)):
            self.message_user(
                request, "Those rows cannot be selected. Select them again in the list.", messages.WARNING
            )
            return None
        return super().response_action(request, queryset)


class CheckedInlineMixin:
    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.JSONField):
            kwargs = _json_formfield(db_field, kwargs)
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class CheckedTabularInline(CheckedInlineMixin, admin.TabularInline):
    pass
