"""Stored rating fits: each run keeps what was asked, how it went and what came out."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class RunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class RatingRun(models.Model):
    """One fit of one board. ``board`` names the selection and method (see ratings.boards)."""

    board = models.CharField(max_length=200, db_index=True)
    # The fit's parameters as the engine takes them (method, style, category, source, bootstrap, …).
    parameters = models.JSONField(default=dict)
    state = models.CharField(max_length=10, choices=RunState.choices, default=RunState.QUEUED)
    progress = models.FloatField(default=0.0)
    judgments = models.PositiveIntegerField(null=True, blank=True)
    # The highest judgment id the fit saw: "N new judgments since the last fit" is a count above it.
    last_judgment_id = models.BigIntegerField(null=True, blank=True)
    # Judgments the board left out for an integrity flag not cleared, when it read them (null: the board
    # counts every judgment, or the run is older than the flags).
    integrity_left_out = models.PositiveIntegerField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # Seconds per step (read, fit, store), for the page and the benchmark.
    timings = models.JSONField(default=dict, blank=True)
    trigger = models.CharField(max_length=20, blank=True)  # schedule, judgments, manual, page
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["board", "state", "-id"])]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=RunState.values), name="ratingrun_state_valid"),
            models.CheckConstraint(condition=Q(progress__gte=0, progress__lte=1), name="ratingrun_progress_range"),
        ]

    def __str__(self) -> str:
        return f"{self.board} #{self.pk} ({self.state})"


class PromptEmbedding(models.Model):
    """A prompt's vector from the sentence encoder (ratings.embeddings), so a refit embeds only new prompts.

    ``digest`` is the SHA-256 of the encoder's name and the prompt's text; ``vector`` 384 little-endian float32.
    """

    digest = models.CharField(max_length=64, primary_key=True)
    vector = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.digest[:12]
