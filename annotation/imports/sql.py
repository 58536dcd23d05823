"""The hand-written SQL of bulk writes: ids drawn ahead from the tables' sequences, and COPY into the
comparison, candidate and item tables. Table and column names come from the models and the row classes,
whose fields are the models' columns (tests/test_sql.py checks the statements against the models).

COPY rather than the ORM's bulk_create: building and adapting a multi-row INSERT cost 500 µs an item
(``benchmarks/api.py``, an item push of 10,000 items: 1,587 items/s in process with bulk_create)."""

from __future__ import annotations

from django.db import models

from annotation.candidates import STYLE_FIELDS
from annotation.imports.rows import CandidateRow, ComparisonRow, field_names
from annotation.models import Candidate, Comparison, Item

# Bulk writes of comparisons take turns (annotation/imports/writes.py): a transaction-scoped advisory lock,
# one key for all of them (the first number is this lock's namespace, the second its key).
BULK_WRITE_LOCK_SQL = "SELECT pg_advisory_xact_lock(4242, 1)"

# The table's id sequence, named by PostgreSQL (serial or identity column alike).
NEXT_IDS_SQL = "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)"

COMPARISON_COLUMNS = ("id", "prompt", *field_names(ComparisonRow, exclude=("candidates",)))
CANDIDATE_ROW_COLUMNS = tuple(field_names(CandidateRow))
CANDIDATE_COLUMNS = ("comparison_id", *CANDIDATE_ROW_COLUMNS, *STYLE_FIELDS)
# An item's counters start at zero and it starts open; the id comes from its sequence (the column default).
ITEM_COLUMNS = ("project_id", "comparison_id", "priority", "taken", "done", "open", "is_gold", "gold_answer")
ITEM_COLUMNS += ("gold_tolerance", "suggestion", "retired")


def copy_sql(model: type[models.Model], columns: tuple[str, ...]) -> str:
    return f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"


COPY_COMPARISONS_SQL = copy_sql(Comparison, COMPARISON_COLUMNS)
COPY_CANDIDATES_SQL = copy_sql(Candidate, CANDIDATE_COLUMNS)
COPY_ITEMS_SQL = copy_sql(Item, ITEM_COLUMNS)
