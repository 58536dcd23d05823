from django.contrib import admin

from annotation.admin_checks import CheckedModelAdmin
from ratings.models import RatingRun


@admin.register(RatingRun)
class RatingRunAdmin(CheckedModelAdmin):
    list_display = ["id", "board", "state", "progress", "judgments", "duration_ms", "trigger", "created_at"]
    list_filter = ["state", "board", "trigger"]
    readonly_fields = [f.name for f in RatingRun._meta.fields]

    def has_add_permission(self, request):  # runs come from fits, not from forms
        return False
