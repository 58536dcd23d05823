"""The live arena: registered models, battles between two of them, and their answers.

A battle is private until its vote. Its ``public_id`` is the only handle the
browser gets; model identities stay in these rows and reach the visitor only in
the reveal. The vote itself is a Judgment on a Comparison built from the battle
(annotation.models), so arena votes rate and export like every other judgment.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from annotation.models import Judgment
from workers.backends import BACKEND_CHOICES
from workers.backends.base import ModelSpec


class ArenaModel(models.Model):
    """A model the arena can serve, and how to reach it."""

    # The public name: shown in the reveal and used as the label in judgments.
    name = models.CharField(max_length=200, unique=True)
    organization = models.CharField(max_length=200, blank=True)
    backend = models.CharField(max_length=20, choices=BACKEND_CHOICES)
    endpoint = models.CharField(
        max_length=500, blank=True, help_text="Base URL of an OpenAI-compatible API, e.g. http://gpu-host:8000/v1"
    )
    model_id = models.CharField(
        max_length=500, blank=True, help_text="Remote model id, local model directory, or recorded model to replay"
    )
    api_key_env = models.CharField(
        max_length=100,
        blank=True,
        validators=[RegexValidator(r"^[A-Za-z_][A-Za-z0-9_]*$", "An environment variable name, not a key.")],
        help_text="Name of the environment variable that holds the API key (the key itself never goes here)",
    )
    params = models.JSONField(default=dict, blank=True, help_text="Generation parameters: temperature, max_tokens, …")
    weight = models.FloatField(default=1.0, validators=[MinValueValidator(0.0)])
    active = models.BooleanField(default=True)
    max_concurrency = models.PositiveIntegerField(
        default=16, help_text="Answers this model may generate at once; busier models sit out new battles"
    )
    timeout_s = models.FloatField(
        default=120.0, validators=[MinValueValidator(0.1)], help_text="Seconds a whole answer may take"
    )
    queue = models.CharField(max_length=100, blank=True, help_text="Celery queue of its workers (empty: the default)")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(weight__gte=0), name="arenamodel_weight_nonnegative"),
            models.CheckConstraint(condition=Q(timeout_s__gt=0), name="arenamodel_timeout_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    def spec(self) -> ModelSpec:
        return ModelSpec(
            name=self.name,
            backend=self.backend,
            endpoint=self.endpoint,
            model_id=self.model_id,
            api_key_env=self.api_key_env,
            params=dict(self.params or {}),
            timeout_s=self.timeout_s,
        )


class BattleState(models.TextChoices):
    GENERATING = "generating", "Generating"
    READY = "ready", "Ready for the vote"
    VOTED = "voted", "Voted"
    FAILED = "failed", "Failed"


# A battle that is over: voted, or failed with no vote to come. The public sampling counts and the
# policies' pair counts read only these (a running battle's models must not show in any count).
SETTLED = (BattleState.VOTED, BattleState.FAILED)


def new_public_id() -> str:
    return secrets.token_urlsafe(12)


class Battle(models.Model):
    """Two anonymous models answering one visitor, turn by turn, until the vote."""

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id)
    # The judge label of whoever started it ("voter:<key>" or "user:<id>"); only they see it.
    voter = models.CharField(max_length=200, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # Side A is shown on the left. Which model got which side was drawn at random.
    model_a = models.ForeignKey(ArenaModel, on_delete=models.PROTECT, related_name="+")
    model_b = models.ForeignKey(ArenaModel, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=12, choices=BattleState.choices, default=BattleState.GENERATING)
    # Shown to the visitor when the battle failed; never names a model.
    error = models.CharField(max_length=300, blank=True)
    judgment = models.OneToOneField(Judgment, null=True, blank=True, on_delete=models.SET_NULL, related_name="battle")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # When both answers of the latest turn were complete: the vote's clock starts here.
    ready_at = models.DateTimeField(null=True, blank=True)
    voted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=BattleState.values), name="battle_state_valid"),
            models.CheckConstraint(condition=~Q(model_a=models.F("model_b")), name="battle_two_models"),
        ]

    def __str__(self) -> str:
        return f"battle {self.public_id} ({self.state})"

    @property
    def group_name(self) -> str:
        """The Channels group its answers stream to."""
        return f"battle.{self.public_id}"

    def model_at(self, side: int) -> ArenaModel:
        return self.model_a if side == 0 else self.model_b


class AnswerState(models.TextChoices):
    QUEUED = "queued", "Queued"
    GENERATING = "generating", "Generating"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Answer(models.Model):
    """One side's answer to one turn of a battle."""

    battle = models.ForeignKey(Battle, on_delete=models.CASCADE, related_name="answers")
    turn = models.PositiveSmallIntegerField()
    side = models.PositiveSmallIntegerField()  # 0 = A (left), 1 = B (right)
    # Fixed at creation (the battle's model on that side); lets the concurrency limit count per model.
    model = models.ForeignKey(ArenaModel, on_delete=models.PROTECT, related_name="answers")
    # The visitor's message for this turn (the same on both sides).
    prompt = models.TextField()
    state = models.CharField(max_length=12, choices=AnswerState.choices, default=AnswerState.QUEUED)
    text = models.TextField(blank=True)
    # For operators: what went wrong, with the backend's own words.
    error = models.TextField(blank=True)
    finish_reason = models.CharField(max_length=30, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    first_token_ms = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Past this, an answer still queued or generating is failed by the reaper.
    deadline = models.DateTimeField()
    # Its last sign of life (arena/heartbeat.py): while generating, its worker's latest beat;
    # while queued, when it was last sent to the queue. The reaper acts on one gone quiet.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["battle_id", "turn", "side"]
        constraints = [
            models.UniqueConstraint(fields=["battle", "turn", "side"], name="answer_one_per_turn_and_side"),
            models.CheckConstraint(condition=Q(side__in=[0, 1]), name="answer_side_valid"),
            models.CheckConstraint(condition=Q(state__in=AnswerState.values), name="answer_state_valid"),
        ]
        indexes = [
            # The reaper's and the concurrency limit's scan: only unfinished answers.
            models.Index(
                fields=["deadline"], name="answer_open_deadline", condition=Q(state__in=["queued", "generating"])
            ),
        ]

    def __str__(self) -> str:
        return f"{self.battle.public_id} turn {self.turn} side {'AB'[self.side]} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in (AnswerState.QUEUED, AnswerState.GENERATING)
