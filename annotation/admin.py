import json
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from annotation.admin_checks import CheckedModelAdmin, CheckedTabularInline
from annotation.integrity import integrity_flags_clear
from annotation.models import (
    Assignment,
    Candidate,
    Comparison,
    IntegrityFlag,
    Item,
    JudgeFlag,
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


class IntegrityFlagInline(CheckedTabularInline):
    """A judgment's integrity flags, on its page: every signal is shown with its reason."""

    model = IntegrityFlag
    extra = 0
    fields = ["position", "model", "kind", "evidence_summary", "created_at", "cleared_by", "cleared_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # flags are found by the vote, not typed in

    @admin.display(description="evidence")
    def evidence_summary(self, obj):
        return _evidence_summary(obj)


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
    inlines = [ScoreInline, IntegrityFlagInline]

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
    list_display = ["id", "project", "comparison", "is_gold", "priority", "taken", "done", "open", "retired"]
    list_filter = ["project", "is_gold", "open", "retired"]
    raw_id_fields = ["comparison"]
    # The queue keeps these; editing them would break its counts. Retiring goes through the API, which closes
    # the item in the same write (item_retire).
    readonly_fields = ["taken", "done", "open", "retired"]


@admin.register(Assignment)
class AssignmentAdmin(CheckedModelAdmin):
    list_display = ["id", "item", "annotator", "state", "leased_at", "expires_at", "finished_at"]
    list_filter = ["state", "item__project"]
    raw_id_fields = ["item", "annotator", "judgment"]


# --- Vote integrity -----------------------------------------------------------------------------


def _evidence_summary(flag: IntegrityFlag, most: int = 3):
    matches = (flag.evidence or {}).get("matches") or []
    shown = format_html_join(
        "; ",
        "{} “{}”",
        ((m.get("rule", "?"), str(m.get("excerpt", ""))[:160]) for m in matches[:most] if isinstance(m, dict)),
    )
    more = len(matches) - most
    return format_html("{} (+{} more)", shown, more) if more > 0 else shown


class ClearedFilter(admin.SimpleListFilter):
    title = "cleared"
    parameter_name = "cleared"

    def lookups(self, request, model_admin):
        return [("no", "Not cleared (left out of the boards)"), ("yes", "Cleared (counted)")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(cleared_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(cleared_at__isnull=False)
        return queryset


class ClearableFlagAdmin(CheckedModelAdmin):
    """What the two flag lists share: read-only records, their evidence in full, cleared or not."""

    def has_add_permission(self, request):
        return False  # flags are raised where they are found (the vote, the judges' review), not typed in

    def has_delete_permission(self, request, obj=None):
        return False  # a flag is the record of what was found; clearing keeps it, with who and when

    @admin.display(description="evidence")
    def evidence_pretty(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.evidence, indent=2, ensure_ascii=False))

    @admin.display(description="cleared", boolean=True, ordering="cleared_at")
    def cleared(self, obj):
        return obj.cleared


@admin.register(IntegrityFlag)
class IntegrityFlagAdmin(ClearableFlagAdmin):
    """The flagged votes, with the words that gave each answer away; staff clear a flag by hand."""

    list_display = [
        "id",
        "battle",
        "model",
        "kind",
        "evidence_summary",
        "judge",
        "created_at",
        "cleared",
        "cleared_by",
        "cleared_at",
    ]
    list_filter = [ClearedFilter, "kind", "model"]
    list_select_related = ["judgment", "judgment__comparison", "cleared_by"]
    search_fields = ["model", "judgment__judge", "judgment__comparison__key"]
    date_hierarchy = "created_at"
    fields = [
        "battle",
        "judgment_link",
        "judge",
        "position",
        "model",
        "kind",
        "evidence_pretty",
        "created_at",
        "cleared",
        "cleared_by",
        "cleared_at",
    ]
    readonly_fields = fields
    actions = ["clear"]

    @admin.display(description="battle", ordering="judgment__comparison__key")
    def battle(self, obj):
        comparison = obj.judgment.comparison
        label = (obj.evidence or {}).get("battle") or comparison.key
        # The comparison's page shows both answers in full, and every judgment on them.
        url = reverse("admin:annotation_comparison_change", args=[comparison.pk])
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description="judgment")
    def judgment_link(self, obj):
        url = reverse("admin:annotation_judgment_change", args=[obj.judgment_id])
        return format_html('<a href="{}">{}</a>', url, obj.judgment)

    @admin.display(description="judge", ordering="judgment__judge")
    def judge(self, obj):
        return obj.judgment.judge

    @admin.display(description="evidence")
    def evidence_summary(self, obj):
        return _evidence_summary(obj)

    @admin.action(description="Clear (count the vote again)", permissions=["change"])
    def clear(self, request, queryset):
        cleared = integrity_flags_clear(flags=queryset, user=request.user)
        skipped = queryset.count() - cleared
        message = f"Cleared {cleared} flag{'s' if cleared != 1 else ''}: their votes count from the next fit."
        if skipped:
            message += f" {skipped} were cleared already and keep their first clearing."
        self.message_user(request, message, messages.SUCCESS)


@admin.register(JudgeFlag)
class JudgeFlagAdmin(ClearableFlagAdmin):
    """The flagged judges, with the statistic that found each; staff clear a judge by hand."""

    list_display = ["judge", "kind", "evidence_summary", "votes", "created_at", "cleared", "cleared_by", "cleared_at"]
    list_filter = [ClearedFilter, "kind"]
    list_select_related = ["cleared_by"]
    search_fields = ["judge"]
    date_hierarchy = "created_at"
    fields = ["judge", "votes", "kind", "evidence_pretty", "created_at", "cleared", "cleared_by", "cleared_at"]
    readonly_fields = fields
    actions = ["clear"]

    @admin.display(description="evidence")
    def evidence_summary(self, obj):
        return ", ".join(f"{k} {v}" for k, v in (obj.evidence or {}).items())

    @admin.display(description="votes")
    def votes(self, obj):
        # The judge's votes, in the judgments list (searched by judge).
        url = reverse("admin:annotation_judgment_changelist") + "?" + urlencode({"q": obj.judge})
        return format_html('<a href="{}">{}</a>', url, Judgment.objects.filter(judge=obj.judge).count())

    @admin.action(description="Clear (count the judge's votes again)", permissions=["change"])
    def clear(self, request, queryset):
        cleared = integrity_flags_clear(flags=queryset, user=request.user)
        self.message_user(
            request,
            f"Cleared {cleared} judge flag{'s' if cleared != 1 else ''}: their votes count from the next fit.",
            messages.SUCCESS,
        )
