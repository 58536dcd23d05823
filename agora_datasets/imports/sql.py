"""The judgment import's hand-written SQL: COPY into the judgment and score tables (the comparison and
candidate statements are annotation/imports/sql.py's, shared with the item pushes). Table and column names
come from the models and the row classes, whose fields are the models' columns (tests/test_sql.py checks
the statements against the models)."""

from __future__ import annotations

from annotation.imports.rows import JudgmentRow, ScoreRow, field_names
from annotation.imports.sql import copy_sql
from annotation.models import Judgment, Score

JUDGMENT_COLUMNS = ("id", "comparison_id", *field_names(JudgmentRow, exclude=("scores",)))
SCORE_COLUMNS = ("judgment_id", *field_names(ScoreRow))

COPY_JUDGMENTS_SQL = copy_sql(Judgment, JUDGMENT_COLUMNS)
COPY_SCORES_SQL = copy_sql(Score, SCORE_COLUMNS)
