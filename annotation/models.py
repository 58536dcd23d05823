"""The preference data: comparisons, their candidates, and judgments on them.

Raw judgments are never aggregated away: ratings, agreement and exports all
derive from these rows. Model identities are plain labels, so imported datasets
whose models were never served here still rate and export.

Positions: candidate 0 is "A" (``model_a``), candidate 1 is "B". A judgment's
``strength`` is signed against those positions (negative favours A), whatever
order the judge saw them in; ``display_order`` records that order.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Source(models.TextChoices):
    ARENA = "arena", "Arena"
    QUEUE = "queue", "Annotation queue"
    AI = "ai", "AI judge"
    IMPORT = "import", "Import"


class JudgeKind(models.TextChoices):
    USER = "user", "Logged-in user"
    VOTER = "voter", "Anonymous voter"
    AI = "ai", "AI judge"
    EXTERNAL = "external", "External annotator"


class Outcome(models.TextChoices):
    A = "a", "A is better"
    B = "b", "B is better"
    TIE = "tie", "Tie"


class Comparison(models.Model):
    """One context with two or more candidate answers to compare."""

    # Stable identity across databases: the import and the arena derive it, so a
    # re-import finds the same row and a raw export round-trips without database ids.
    key = models.CharField(max_length=200, unique=True)
    # OpenAI-style messages up to (and including) the last user turn.
    context = models.JSONField()
    # The last user message, kept as plain text for search and display.
    prompt = models.TextField()
    category = models.CharField(max_length=100, blank=True)
    language = models.CharField(max_length=50, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(source__in=Source.values), name="comparison_source_valid"),
        ]
        # Plain indexes, declared here rather than with db_index: on a CharField that would add a
        # second (LIKE) index to every row written, which nothing queries.
        indexes = [
            models.Index(fields=["category"], name="comparison_category"),
            models.Index(fields=["language"], name="comparison_language"),
            models.Index(fields=["source"], name="comparison_source"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.prompt[:60]}"


class Candidate(models.Model):
    """One model's answer within a comparison."""

    # No index of its own: candidate_position_unique starts with it.
    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="candidates", db_index=False)
    position = models.PositiveSmallIntegerField()
    model = models.CharField(max_length=200)
    text = models.TextField()
    # The full conversation on this side when it differs from context + text
    # (multi-turn arena battles: each side saw its own earlier answers).
    conversation = models.JSONField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    finish_reason = models.CharField(max_length=30, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Style counts for style-controlled ratings (annotation/candidates.py fills them when the row
    # is written), kept as columns so a refresh reads a million of them without parsing text.
    style_tokens = models.PositiveIntegerField(null=True, blank=True)
    style_headers = models.PositiveIntegerField(null=True, blank=True)
    style_lists = models.PositiveIntegerField(null=True, blank=True)
    style_bold = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["comparison_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["comparison", "position"], name="candidate_position_unique"),
        ]
        indexes = [models.Index(fields=["model"], name="candidate_model")]

    def __str__(self) -> str:
        return f"{'ABCDEFGH'[self.position] if self.position < 8 else self.position}: {self.model}"


class Judgment(models.Model):
    """One judge's verdict on one comparison."""

    # No index of its own: judgment_one_per_judge_and_source starts with it.
    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="judgments", db_index=False)
    source = models.CharField(max_length=10, choices=Source.choices)  # the (source, created_at) index serves it
    judge_kind = models.CharField(max_length=10, choices=JudgeKind.choices)
    # Who judged, as a stable pseudonymous label: "user:<id>", "voter:<key>", an AI
    # judge's model name, or an external dataset's annotator id.
    judge = models.CharField(max_length=200)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="judgments"
    )
    # Candidate positions in the order the judge saw them, left to right; null if unknown.
    display_order = models.JSONField(null=True, blank=True)

    # Pairwise outcome. strength refines it when the judge said how strongly:
    # -3..-1 favour A, 0 is a tie, 1..3 favour B.
    outcome = models.CharField(max_length=3, choices=Outcome.choices, null=True, blank=True)
    strength = models.SmallIntegerField(null=True, blank=True)
    both_bad = models.BooleanField(default=False)
    # A soft judge's probability that A is better than B.
    preference = models.FloatField(null=True, blank=True)

    # Listwise ranking with ties: groups of positions, best first, e.g. [[1], [0, 2]].
    ranking = models.JSONField(null=True, blank=True)
    # Binary principle checks: {"principle": true/false}.
    principles = models.JSONField(default=dict, blank=True)
    rationale = models.TextField(blank=True)
    time_spent_ms = models.PositiveIntegerField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["comparison", "judge", "source"], name="judgment_one_per_judge_and_source"),
            models.CheckConstraint(condition=Q(source__in=Source.values), name="judgment_source_valid"),
            models.CheckConstraint(condition=Q(judge_kind__in=JudgeKind.values), name="judgment_kind_valid"),
            models.CheckConstraint(
                condition=Q(outcome__isnull=True) | Q(outcome__in=Outcome.values), name="judgment_outcome_valid"
            ),
            models.CheckConstraint(
                condition=Q(strength__isnull=True) | Q(strength__gte=-3, strength__lte=3),
                name="judgment_strength_range",
            ),
            # A strength never contradicts the outcome, and needs one. (SQL CHECK passes
            # on NULL, hence the explicit IS NOT NULL.)
            models.CheckConstraint(
                condition=Q(strength__isnull=True)
                | Q(outcome__isnull=False)
                & (Q(outcome="a", strength__lt=0) | Q(outcome="b", strength__gt=0) | Q(outcome="tie", strength=0)),
                name="judgment_strength_matches_outcome",
            ),
            models.CheckConstraint(
                condition=Q(both_bad=False) | Q(outcome__isnull=False, outcome="tie"), name="judgment_both_bad_is_tie"
            ),
            models.CheckConstraint(
                condition=Q(preference__isnull=True) | Q(preference__gte=0, preference__lte=1),
                name="judgment_preference_range",
            ),
        ]
        indexes = [models.Index(fields=["source", "created_at"]), models.Index(fields=["judge"], name="judgment_judge")]

    def __str__(self) -> str:
        return f"{self.judge} on #{self.comparison_id}: {self.outcome or '—'}"


class Score(models.Model):
    """A cardinal score a judgment gave one candidate on one attribute (Likert, 1–7, …)."""

    # No index of its own: score_unique starts with it.
    judgment = models.ForeignKey(Judgment, on_delete=models.CASCADE, related_name="scores", db_index=False)
    position = models.PositiveSmallIntegerField()
    attribute = models.CharField(max_length=100)
    value = models.FloatField()

    class Meta:
        ordering = ["judgment_id", "position", "attribute"]
        constraints = [
            models.UniqueConstraint(fields=["judgment", "position", "attribute"], name="score_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.attribute}[{self.position}] = {self.value:g}"


# --- Annotation projects and their queues -------------------------------------------------------


class TaskType(models.TextChoices):
    PAIRWISE = "pairwise", "Pairwise (A / B)"
    TERNARY = "ternary", "Ternary (A / B / tie)"
    GRADED = "graded", "Graded (−3..+3)"
    LIKERT = "likert", "Likert per attribute"
    RANKING = "ranking", "Listwise ranking"
    PRINCIPLES = "principles", "Principle checks (yes / no)"


class RationaleMode(models.TextChoices):
    OFF = "off", "No rationale"
    OPTIONAL = "optional", "Optional rationale"
    REQUIRED = "required", "Rationale required"


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    REVIEWER = "reviewer", "Reviewer"
    ANNOTATOR = "annotator", "Annotator"


class Project(models.Model):
    """A labelling job: which items, what to ask about them, and how many people answer each."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    guidelines = models.TextField(blank=True)  # Markdown, rendered sanitized
    task_type = models.CharField(max_length=20, choices=TaskType.choices, default=TaskType.PAIRWISE)
    # Per task type: {"attributes": ["helpfulness", …], "scale": [0, 4]} for Likert,
    # {"principles": ["…", …]} for principle checks; empty for the pairwise kinds.
    config = models.JSONField(default=dict, blank=True)
    rationale = models.CharField(max_length=10, choices=RationaleMode.choices, default=RationaleMode.OPTIONAL)
    overlap = models.PositiveSmallIntegerField(default=1)  # distinct annotators per item
    lease_seconds = models.PositiveIntegerField(default=900)
    gold_ratio = models.FloatField(default=0.0)  # share of tasks drawn from gold items
    blind = models.BooleanField(default=True)  # annotators never see others' annotations
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(task_type__in=TaskType.values), name="project_task_type_valid"),
            models.CheckConstraint(condition=Q(rationale__in=RationaleMode.values), name="project_rationale_valid"),
            models.CheckConstraint(condition=Q(overlap__gte=1, overlap__lte=50), name="project_overlap_range"),
            models.CheckConstraint(condition=Q(gold_ratio__gte=0, gold_ratio__lte=1), name="project_gold_ratio_range"),
            models.CheckConstraint(condition=Q(lease_seconds__gte=10), name="project_lease_minimum"),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.ANNOTATOR)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} as {self.role}"


class Item(models.Model):
    """One comparison in a project's queue, with its gold answer when it is a gold item.

    ``taken`` = live leases + completed annotations, ``done`` = completed annotations, and ``open``
    = whether the item still takes annotations (gold, or taken < the project's overlap: the rule is
    written once, in annotation/sql.py's ``item_open_sql``). annotation/queue.py writes all three on a
    claim, submit, skip and lease expiry, under the item's row lock in the same transaction as the
    assignment they count; annotation/projects.py's ``items_reopen`` rewrites ``open`` when the
    project's overlap changes (from the settings page or the admin). The claim so finds open items
    through a partial index instead of counting assignments (tests check they always equal the counts).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items")
    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="items")
    priority = models.SmallIntegerField(default=0)  # higher first (items an AI judge found contested)
    taken = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    # annotation/sql.py's item_open_sql (not retired; gold, or taken < overlap): the claim index holds open items.
    open = models.BooleanField(default=True)
    is_gold = models.BooleanField(default=False)
    # The expected answer of a gold item, in the shape of the task's answer; numbers within
    # ``gold_tolerance`` of it count as correct.
    gold_answer = models.JSONField(null=True, blank=True)
    gold_tolerance = models.FloatField(default=0.0)
    # An AI judge's suggestion ({"outcome": …, "orders_agree": …}), shown when the project allows.
    suggestion = models.JSONField(null=True, blank=True)
    # Retired by its owner (the API's retire): closed for good, its answers kept.
    retired = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "comparison"], name="item_comparison_unique"),
            models.CheckConstraint(condition=Q(done__lte=models.F("taken")), name="item_done_within_taken"),
            models.CheckConstraint(condition=Q(retired=False) | Q(open=False), name="item_retired_closed"),
        ]
        indexes = [
            models.Index(
                fields=["project", "is_gold", "-priority", "id"], condition=Q(open=True), name="item_open_queue"
            ),
            # A project's items in id order (the API's pages): without it a page walked every older item of
            # every other project (75,000 rows read for 11 in the API benchmark).
            models.Index(fields=["project", "id"], name="item_project_id"),
        ]

    def __str__(self) -> str:
        return f"item {self.pk} of {self.project_id}"


class AssignmentState(models.TextChoices):
    LEASED = "leased", "Leased"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"
    EXPIRED = "expired", "Expired"


class Assignment(models.Model):
    """An annotator's lease on an item, and what became of it. One row per (item, annotator)."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    state = models.CharField(max_length=10, choices=AssignmentState.choices, default=AssignmentState.LEASED)
    # The order the annotator is shown the candidates (positions, left to right), drawn per lease.
    display_order = models.JSONField(default=list)
    leased_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.CharField(max_length=500, blank=True)
    judgment = models.OneToOneField(
        Judgment, null=True, blank=True, on_delete=models.PROTECT, related_name="assignment"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "annotator"], name="assignment_one_per_annotator"),
            models.CheckConstraint(condition=Q(state__in=AssignmentState.values), name="assignment_state_valid"),
            models.CheckConstraint(
                condition=~Q(state="done") | Q(judgment__isnull=False), name="assignment_done_has_judgment"
            ),
        ]
        indexes = [
            models.Index(fields=["annotator", "state"], name="assignment_by_annotator"),
            models.Index(fields=["expires_at"], condition=Q(state="leased"), name="assignment_live_leases"),
        ]

    def __str__(self) -> str:
        return f"{self.annotator} on item {self.item_id}: {self.state}"


# --- Vote integrity -----------------------------------------------------------------------------


class FlagKind(models.TextChoices):
    SELF_IDENTIFICATION = "self-identification", "An answer named its own model"


class ClearableFlag(models.Model):
    """What the two kinds of flag share: when it was raised, and whether staff cleared it by hand (who and
    when; annotation/integrity.py). A cleared flag is kept as the record of that decision."""

    created_at = models.DateTimeField(db_index=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]
        constraints = [
            # Cleared by someone means cleared at a time (the user may be deleted later: SET_NULL).
            models.CheckConstraint(
                condition=Q(cleared_by__isnull=True) | Q(cleared_at__isnull=False), name="%(class)s_cleared_at"
            ),
        ]

    @property
    def cleared(self) -> bool:
        return self.cleared_at is not None


class IntegrityFlag(ClearableFlag):
    """A reason not to count a judgment: what was found, on which candidate, and whether staff cleared it.

    A judgment with a flag not cleared is left out of the boards that keep integrity (ratings.boards.Board
    ``integrity``, on by default); the judgment itself is kept and exported as it is. Clearing
    (annotation/integrity.py) records who and when, and the vote counts again from the next fit.
    """

    judgment = models.ForeignKey(Judgment, on_delete=models.CASCADE, related_name="integrity_flags")
    # The candidate whose answer gave it away, and its model label as the judgment's comparison has it.
    position = models.PositiveSmallIntegerField()
    model = models.CharField(max_length=200, db_index=True)
    kind = models.CharField(max_length=30, choices=FlagKind.choices)
    # What was found: {"battle": …, "matches": [{"turn", "rule", "term", "kind", "excerpt", "start", "prompted"}]}.
    evidence = models.JSONField(default=dict, blank=True)

    class Meta(ClearableFlag.Meta):
        constraints = [
            models.UniqueConstraint(fields=["judgment", "kind", "position"], name="integrityflag_one_per_kind"),
            models.CheckConstraint(condition=Q(kind__in=FlagKind.values), name="integrityflag_kind_valid"),
            *ClearableFlag.Meta.constraints,
        ]
        indexes = [
            # The boards' anti-join and the admin's "not cleared" list read only the flags that still count.
            models.Index(fields=["judgment"], condition=Q(cleared_at__isnull=True), name="integrityflag_open"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.model} on judgment {self.judgment_id}"


class JudgeFlagKind(models.TextChoices):
    IMPROBABLE = "improbable", "Votes improbable under the fit"
    TOO_FAST = "too-fast", "Votes faster than the answers can be read"
    VOLUME = "volume", "More votes in an hour than a person gives"
    CONCENTRATED = "concentrated", "Votes concentrated on one model beyond what sampling shows"
    SHARED_ADDRESS = "shared-address", "One of many voter keys from one network address"


class JudgeFlag(ClearableFlag):
    """A reason not to count any vote of one judge (voter key or user): the statistic that found it, with
    its evidence, and whether staff cleared the judge by hand.

    Found by the periodic review (ratings/judge_review.py). While a flag is open, boards that keep integrity
    leave out every judgment of that judge, the later ones too; the judgments are kept and exported.
    A cleared flag stays, with who and when, and the review does not raise the same kind for that judge again.
    """

    judge = models.CharField(max_length=200)
    kind = models.CharField(max_length=30, choices=JudgeFlagKind.choices)
    # The statistic and what it was computed on: {"votes": …, "z": …, "p": …, "p_adjusted": …} and the like.
    evidence = models.JSONField(default=dict, blank=True)

    class Meta(ClearableFlag.Meta):
        constraints = [
            models.UniqueConstraint(fields=["judge", "kind"], name="judgeflag_one_per_kind"),
            models.CheckConstraint(condition=Q(kind__in=JudgeFlagKind.values), name="judgeflag_kind_valid"),
            *ClearableFlag.Meta.constraints,
        ]
        indexes = [models.Index(fields=["judge"], condition=Q(cleared_at__isnull=True), name="judgeflag_open")]

    def __str__(self) -> str:
        return f"{self.judge}: {self.get_kind_display()}{' (cleared)' if self.cleared_at else ''}"


class SamplingEstimate(models.Model):
    """One model's standing on the main board's latest fit, as the arena's pair sampling reads it.

    The ratings app writes the whole set after each fit of the main board (ratings/services.py); the
    arena's information-seeking policies read it (arena/sampling.py), never fitting anything themselves.
    It lives here because both apps import annotation and neither imports the other.
    """

    model = models.CharField(max_length=200, unique=True)
    rating = models.FloatField()
    lower = models.FloatField(null=True, blank=True)  # the 95% interval, when the fit gave one
    upper = models.FloatField(null=True, blank=True)
    battles = models.PositiveIntegerField(default=0)
    fitted_at = models.DateTimeField()

    class Meta:
        ordering = ["-rating"]

    def __str__(self) -> str:
        return f"{self.model}: {self.rating:.0f}"
