"""The annotation app's hand-written SQL, in one place.

Each statement is here because the ORM could not say it (a claim's ``FOR UPDATE SKIP LOCKED`` with its
upsert, the reaper's update of two tables in one statement) or because compiling the equivalent queryset
cost more than running it on a path every annotator request takes. Table names come from the models and
state values from their enums, put in once at import: a renamed table or state changes the SQL with it
(tests/test_sql.py checks every literal and table name here against the models).

``item_open_sql`` is the one place ``Item.open``'s rule is written; the statements here and the ORM
updates in queue.py and projects.py all use it.
"""

from __future__ import annotations

from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from annotation.models import (
    Assignment,
    AssignmentState,
    Candidate,
    Item,
    Judgment,
    Membership,
    Outcome,
    Project,
    Source,
)

ITEMS = Item._meta.db_table
ASSIGNMENTS = Assignment._meta.db_table
JUDGMENTS = Judgment._meta.db_table
CANDIDATES = Candidate._meta.db_table
PROJECTS = Project._meta.db_table
MEMBERSHIPS = Membership._meta.db_table


def literal(value: str) -> str:
    """One of our own constants (an enum's value) as an SQL string literal; never for user input."""
    return "'" + str(value).replace("'", "''") + "'"


LEASED = literal(AssignmentState.LEASED)
DONE = literal(AssignmentState.DONE)
EXPIRED = literal(AssignmentState.EXPIRED)


# --- Item.open ---------------------------------------------------------------------------------


def item_open_sql(taken: str, overlap: str, *, item: str = "") -> str:
    """``Item.open``'s rule: a retired item takes no more annotations; any other takes them while it is a gold
    item or while ``taken`` (live leases and completed annotations, after the change being written) is below
    the project's overlap.

    ``taken`` and ``overlap`` are SQL expressions; ``item`` the item table's alias, if the statement has one."""
    is_gold = f"{item}.is_gold" if item else "is_gold"
    retired = f"{item}.retired" if item else "retired"
    return f"(NOT {retired} AND ({is_gold} OR {taken} < {overlap}))"


def item_open(*, overlap: int, taken_change: int = 0) -> RawSQL:
    """``Item.open``'s rule for an ORM update or filter on items, after ``taken`` moves by ``taken_change``.
    In an UPDATE every column reads its value from before the update, as in the statements below."""
    return RawSQL(item_open_sql("taken + %s", "%s"), [taken_change, overlap], output_field=BooleanField())


# --- the queue (annotation/queue.py) -----------------------------------------------------------

# One statement claims: pick the first open item the annotator has not had (row-locked, skipping
# rows other claims hold), count the lease on it, and write the lease with the candidates in a
# random order. The annotator's old row for the item can only be an expired lease (anything else
# made the item ineligible), so the conflict branch revives exactly that one.
CLAIM_SQL = f"""
    WITH picked AS (
        SELECT i.id FROM {ITEMS} i
        WHERE i.project_id = %(project)s AND i.open AND i.is_gold = %(gold)s
          AND NOT EXISTS (
              SELECT 1 FROM {ASSIGNMENTS} a
              WHERE a.item_id = i.id AND a.annotator_id = %(annotator)s AND a.state <> {EXPIRED}
          )
          -- The same comparison may sit in several projects: one queue judgment per person on it.
          AND NOT EXISTS (
              SELECT 1 FROM {JUDGMENTS} j
              WHERE j.comparison_id = i.comparison_id AND j.judge = %(judge)s AND j.source = {literal(Source.QUEUE)}
          )
        ORDER BY i.priority DESC, i.id
        LIMIT 1
        FOR UPDATE OF i SKIP LOCKED
    ), counted AS (
        UPDATE {ITEMS} i
        SET taken = i.taken + 1, open = {item_open_sql("i.taken + 1", "%(overlap)s", item="i")}
        FROM picked WHERE i.id = picked.id
        RETURNING i.id, i.comparison_id
    )
    INSERT INTO {ASSIGNMENTS} (item_id, annotator_id, state, display_order, leased_at, expires_at, skip_reason)
    SELECT counted.id, %(annotator)s, {LEASED},
           (SELECT COALESCE(jsonb_agg(k.position ORDER BY random()), '[]'::jsonb)
            FROM {CANDIDATES} k WHERE k.comparison_id = counted.comparison_id),
           %(now)s, %(expires)s, ''
    FROM counted
    ON CONFLICT (item_id, annotator_id) DO UPDATE
        SET state = {LEASED}, display_order = EXCLUDED.display_order, leased_at = EXCLUDED.leased_at,
            expires_at = EXCLUDED.expires_at, finished_at = NULL, skip_reason = ''
        WHERE {ASSIGNMENTS}.state = {EXPIRED}
    RETURNING id
"""

# End every lease past its time and give each item its slots back, in one statement.
EXPIRE_SQL = f"""
    WITH expired AS (
        UPDATE {ASSIGNMENTS} SET state = {EXPIRED}, finished_at = %(now)s
        WHERE state = {LEASED} AND expires_at <= %(now)s
        RETURNING item_id
    ), counts AS (
        SELECT item_id, COUNT(*) AS n FROM expired GROUP BY item_id
    )
    UPDATE {ITEMS} i
    SET taken = i.taken - c.n, open = {item_open_sql("i.taken - c.n", "p.overlap", item="i")}
    FROM counts c, {PROJECTS} p
    WHERE i.id = c.item_id AND p.id = i.project_id
    RETURNING i.id
"""

# The annotator's oldest live lease in the project.
LIVE_SQL = f"""
    SELECT a.id FROM {ASSIGNMENTS} a JOIN {ITEMS} i ON i.id = a.item_id
    WHERE i.project_id = %(project)s AND a.annotator_id = %(annotator)s AND a.state = {LEASED}
      AND a.expires_at > %(now)s
    ORDER BY a.leased_at LIMIT 1
"""

# Annotations done and wanted in a project, and one annotator's (all, and since ``today``).
PROGRESS_SQL = f"""
    SELECT (SELECT COALESCE(SUM(done), 0) FROM {ITEMS} WHERE project_id = %(project)s AND NOT is_gold AND NOT retired),
           (SELECT COUNT(*) FROM {ITEMS} WHERE project_id = %(project)s AND NOT is_gold AND NOT retired),
           COUNT(*), COUNT(*) FILTER (WHERE a.finished_at >= %(today)s)
    FROM {ASSIGNMENTS} a JOIN {ITEMS} i ON i.id = a.item_id
    WHERE a.annotator_id = %(annotator)s AND a.state = {DONE} AND i.project_id = %(project)s
"""


# --- the annotator pages (annotation/views.py, annotation/tasks_view.py) -----------------------

# A project by slug, with whether the user is a member in one of the given roles (``member``).
PROJECT_FOR_SQL = f"""
    SELECT p.*, EXISTS (SELECT 1 FROM {MEMBERSHIPS} m
                        WHERE m.project_id = p.id AND m.user_id = %s AND m.role = ANY(%s)) AS member
    FROM {PROJECTS} p WHERE p.slug = %s
"""

# A comparison's candidates, for Candidate.objects.raw.
CANDIDATES_SQL = f"SELECT * FROM {CANDIDATES} WHERE comparison_id = %s"


# --- reads over the data (annotation/selectors.py) ---------------------------------------------

# Wins, ties and losses per model over the pairwise judgments (both-bad votes count as ties).
_A, _B, _TIE = literal(Outcome.A), literal(Outcome.B), literal(Outcome.TIE)
PAIRWISE_RESULTS_SQL = f"""
    WITH votes AS (
        SELECT a.model AS model_a, b.model AS model_b, j.outcome
        FROM {JUDGMENTS} j
        JOIN {CANDIDATES} a ON a.comparison_id = j.comparison_id AND a.position = 0
        JOIN {CANDIDATES} b ON b.comparison_id = j.comparison_id AND b.position = 1
        WHERE j.outcome IS NOT NULL
    ), sides AS (
        SELECT model_a AS model, (outcome = {_A})::int AS win, (outcome = {_TIE})::int AS tie,
               (outcome = {_B})::int AS loss FROM votes
        UNION ALL
        SELECT model_b, (outcome = {_B})::int, (outcome = {_TIE})::int, (outcome = {_A})::int FROM votes
    )
    SELECT model, COUNT(*), SUM(win), SUM(tie), SUM(loss) FROM sides GROUP BY model
"""
