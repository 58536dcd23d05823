"""Export jobs: a dataset export run in the background, with its progress, files and manifest."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.models import Project


class ExportState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ExportJob(models.Model):
    """A dataset export run in the background; its files live under AGORA_EXPORT_DIR/<id>/."""

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exports")
    # Set when a project's owner asked: the export is limited to that project, and only its owners see it.
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="exports")
    parameters = models.JSONField(default=dict)  # agora_datasets/exports/jobs.py JOB_PARAMS
    state = models.CharField(max_length=10, choices=ExportState.choices, default=ExportState.QUEUED)
    progress = models.FloatField(default=0.0)
    rows = models.PositiveBigIntegerField(null=True, blank=True)
    manifest = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The table the model had in the annotation app: moving the model moved no data.
        db_table = "annotation_exportjob"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=ExportState.values), name="exportjob_state_valid"),
            models.CheckConstraint(condition=Q(progress__gte=0, progress__lte=1), name="exportjob_progress_range"),
        ]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.parameters.get('format')}, {self.state})"
