from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect

from annotation.admin_checks import CheckedModelAdmin, CheckedTabularInline
from annotation.models import (
    Assignment,
    Candidate,
    Comparison,
    Item,
    Judgment,
    Membership,
    Project,
    Score,
)
from annotation.projects import items_reopen


class CandidateInline(CheckedTabularInline):
    model = Candidate
    extra = 0
    fields = ["position", "model", "text", "output_tokens", "latency_ms", "finish_reason"]


class JudgmentInline(CheckedTabularInline):
    model = Judgment
    extra = 0
    fields = ["source", "judge", "outcome", "strength", "both_bad", "preference", "rationale", "created_at"]
    show_change_link = True


class ScoreInline(CheckedTabularInline):
    model = Score
    extra = 0


@admin.register(Comparison)
class ComparisonAdmin(CheckedModelAdmin):
    list_display = ["id", "short_prompt", "source", "category", "language", "created_at"]
    list_filter = ["source", "category", "language"]
    search_fields = ["key", "prompt", "candidates__model", "candidates__text"]
    date_hierarchy = "created_at"
    inlines = [CandidateInline, JudgmentInline]

    @admin.display(description="prompt")
    def short_prompt(self, obj):
        return obj.prompt[:80]

    def get_search_results(self, request, queryset, search_term):
        # Searching across candidates joins many rows per comparison.
        queryset, _ = super().get_search_results(request, queryset, search_term)
        return queryset, True


@admin.register(Candidate)
class CandidateAdmin(CheckedModelAdmin):
    list_display = ["id", "comparison", "position", "model", "output_tokens", "latency_ms", "finish_reason"]
    list_filter = ["position"]
    search_fields = ["model", "text", "comparison__prompt"]
    raw_id_fields = ["comparison"]


@admin.register(Judgment)
class JudgmentAdmin(CheckedModelAdmin):
    list_display = [
        "id",
        "comparison_id",
        "source",
        "judge_kind",
        "judge",
        "outcome",
        "strength",
        "both_bad",
        "preference",
        "created_at",
    ]
    list_filter = ["source", "judge_kind", "outcome", "both_bad"]
    search_fields = ["judge", "rationale", "comparison__prompt", "comparison__candidates__model"]
    raw_id_fields = ["comparison", "user"]
    date_hierarchy = "created_at"
    inlines = [ScoreInline]

    def get_search_results(self, request, queryset, search_term):
        queryset, _ = super().get_search_results(request, queryset, search_term)
        return queryset, True


@admin.register(Score)
class ScoreAdmin(CheckedModelAdmin):
    list_display = ["id", "judgment", "position", "attribute", "value"]
    list_filter = ["attribute"]
    search_fields = ["attribute", "judgment__judge"]
    raw_id_fields = ["judgment"]


class KeysOnlyAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete redraws a refused form by looking up the submitted value as it is, and a value
    that cannot be a key (a tampered form) makes that lookup raise: only values that can be keys are looked up."""

    def optgroups(self, name, value, attr=None):
        key = self.field.target_field
        keys = []
        for item in value:
            try:
                key.get_prep_value(item)
            except (TypeError, ValueError):
                continue
            keys.append(item)
        return super().optgroups(name, keys, attr)


class MembershipInline(CheckedTabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.autocomplete_fields:
            kwargs["widget"] = KeysOnlyAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Project)
class ProjectAdmin(CheckedModelAdmin):
    list_display = ["name", "slug", "task_type", "overlap", "gold_ratio", "rationale", "blind", "active"]
    list_filter = ["task_type", "active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "overlap" in form.changed_data:
            items_reopen(obj)  # the queue's open flags follow the new overlap


@admin.register(Item)
class ItemAdmin(CheckedModelAdmin):
    list_display = ["id", "project", "comparison", "is_gold", "priority", "taken", "done", "open"]
    list_filter = ["project", "is_gold", "open"]
    raw_id_fields = ["comparison"]
    readonly_fields = ["taken", "done", "open"]  # the queue keeps these; editing them would break its counts


@admin.register(Assignment)
class AssignmentAdmin(CheckedModelAdmin):
    list_display = ["id", "item", "annotator", "state", "leased_at", "expires_at", "finished_at"]
    list_filter = ["state", "item__project"]
    raw_id_fields = ["item", "annotator", "judgment"]
