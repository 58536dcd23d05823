from django.contrib import admin

from annotation.admin_checks import CheckedModelAdmin, CheckedTabularInline
from arena.models import Answer, ArenaModel, Battle


@admin.register(ArenaModel)
class ArenaModelAdmin(CheckedModelAdmin):
    list_display = [
        "name",
        "backend",
        "model_id",
        "endpoint",
        "weight",
        "active",
        "max_concurrency",
        "timeout_s",
        "queue",
    ]
    list_filter = ["backend", "active", "queue"]
    list_editable = ["weight", "active"]
    search_fields = ["name", "model_id", "endpoint", "organization"]
    actions = ["activate", "deactivate"]

    @admin.action(description="Activate the selected models")
    def activate(self, request, queryset):
        queryset.update(active=True)

    @admin.action(description="Deactivate the selected models (they leave new battles)")
    def deactivate(self, request, queryset):
        queryset.update(active=False)


class AnswerInline(CheckedTabularInline):
    model = Answer
    extra = 0
    fields = [
        "turn",
        "side",
        "model",
        "state",
        "prompt",
        "text",
        "error",
        "output_tokens",
        "first_token_ms",
        "duration_ms",
    ]
    readonly_fields = fields
    can_delete = False


@admin.register(Battle)
class BattleAdmin(CheckedModelAdmin):
    list_display = ["public_id", "state", "model_a", "model_b", "voter", "created_at", "voted_at"]
    list_filter = ["state", "model_a", "model_b"]
    search_fields = ["public_id", "voter", "answers__prompt"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "public_id",
        "voter",
        "user",
        "model_a",
        "model_b",
        "state",
        "error",
        "judgment",
        "created_at",
        "ready_at",
        "voted_at",
    ]
    inlines = [AnswerInline]

    def has_add_permission(self, request):
        return False  # battles start in the arena, not here
