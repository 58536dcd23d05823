"""The import's hand-written SQL: ids drawn ahead from the tables' sequences, and COPY into the four
tables an import fills. Table and column names come from the models and the row classes, whose
fields are the models' columns (tests/test_sql.py checks the statements against the models)."""

from __future__ import annotations

from django.db import models

from annotation.candidates import STYLE_FIELDS
from annotation.imports.rows import CandidateRow, ComparisonRow, JudgmentRow, ScoreRow, field_names
from annotation.models import Candidate, Comparison, Judgment, Score

# The table's id sequence, named by PostgreSQL (serial or identity column alike).
NEXT_IDS_SQL = "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)"

COMPARISON_COLUMNS = ("id", "prompt", *field_names(ComparisonRow, exclude=("candidates",)))
CANDIDATE_ROW_COLUMNS = tuple(field_names(CandidateRow))
CANDIDATE_COLUMNS = ("comparison_id", *CANDIDATE_ROW_COLUMNS, *STYLE_FIELDS)
JUDGMENT_COLUMNS = ("id", "comparison_id", *field_names(JudgmentRow, exclude=("scores",)))
SCORE_COLUMNS = ("judgment_id", *field_names(ScoreRow))


def copy_sql(model: type[models.Model], columns: tuple[str, ...]) -> str:
    return f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"


COPY_COMPARISONS_SQL = copy_sql(Comparison, COMPARISON_COLUMNS)
COPY_CANDIDATES_SQL = copy_sql(Candidate, CANDIDATE_COLUMNS)
COPY_JUDGMENTS_SQL = copy_sql(Judgment, JUDGMENT_COLUMNS)
COPY_SCORES_SQL = copy_sql(Score, SCORE_COLUMNS)
