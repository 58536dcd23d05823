"""Every app's hand-written SQL (its ``sql.py``) names only tables the models have and only string values
the models' enums hold: a renamed table or state cannot leave a statement quietly matching nothing."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.db import models

ROOT = Path(__file__).resolve().parent.parent
SQL_MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts)
    for path in ROOT.glob("*/**/sql.py")
    if not {".venv", "tests", "node_modules"} & set(path.relative_to(ROOT).parts)
)
# Single-quoted literals that are not states: the empty string, the 'x' that makes an MD5 prefix a
# hexadecimal bit string, and the name and value of the JIT setting.
NOT_STATES = {"", "x", "jit", "off"}
KEYWORDS = re.compile(r"\b(SELECT|UPDATE|INSERT|DELETE|WITH)\b")
LITERAL = re.compile(r"'((?:[^']|'')*)'(?!')")
COMPARED = re.compile(r"\b(\w+)\s*(?:=|<>|!=)\s*'((?:[^']|'')*)'")
# The statements write keywords in capitals and names in lower case: FOR UPDATE OF, DO UPDATE SET are no
# tables; nor is a set-returning function called right after FROM (generate_series(...)).
TABLE_AFTER = re.compile(r"\b(?:FROM|JOIN|UPDATE|INTO)\s+(?:LATERAL\s+|ONLY\s+)?([a-z_]\w*)\b(?!\()")
CTE = re.compile(r"\b(\w+)\s+AS\s*\(", re.IGNORECASE)


def _statements(module) -> dict[str, str]:
    found = {
        name: value
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str) and KEYWORDS.search(value)
    }
    if hasattr(module, "statements"):
        found.update(module.statements())
    return found


def _all_statements() -> list[tuple[str, str]]:
    found = []
    for name in SQL_MODULES:
        found += [(f"{name}.{key}", sql) for key, sql in _statements(importlib.import_module(name)).items()]
    return found


STATEMENTS = _all_statements()
IDS = [name for name, _ in STATEMENTS]


def _choice_values() -> tuple[set[str], dict[str, set[str]]]:
    """Every value of every choices field, and per column name the values of the fields with that name."""
    every, by_column = set(), {}
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if field.choices and isinstance(field, models.CharField):
                values = {str(value) for value, _ in field.flatchoices}
                every |= values
                by_column.setdefault(field.column, set()).update(values)
    return every, by_column


def _tables() -> set[str]:
    return {model._meta.db_table for model in apps.get_models(include_auto_created=True)}


def test_every_app_with_hand_written_sql_has_its_module():
    assert {
        "annotation.sql",
        "arena.sql",
        "ratings.sql",
        "agora_datasets.exports.sql",
        "agora_datasets.imports.sql",
        "annotation.imports.sql",
    } <= set(SQL_MODULES)
    assert len(STATEMENTS) >= 20


def _literal_problems(sql: str) -> list[str]:
    every, by_column = _choice_values()
    problems = []
    for match in LITERAL.finditer(sql):
        value = match.group(1).replace("''", "'")
        if sql[match.end() : match.end() + 2] == "::" or value in NOT_STATES:
            continue  # a typed constant ('[]'::jsonb, 'NaN'::float8), or a literal known not to be a state
        if value not in every:
            problems.append(f"{value!r} is no value of any model's choices")
    for column, value in COMPARED.findall(sql):
        if column in by_column and value.replace("''", "'") not in by_column[column]:
            problems.append(f"{column} = {value!r}: no {column} has that value")
    return problems


def _table_problems(sql: str) -> list[str]:
    tables = _tables()
    ctes = set(CTE.findall(sql))
    problems = [
        f"no model has the table {table!r}"
        for table in TABLE_AFTER.findall(sql)
        if table not in tables and table not in ctes
    ]
    prefixes = tuple(f"{config.label}_" for config in apps.get_app_configs())
    problems += [
        f"{word!r} looks like a table and no model has it"
        for word in re.findall(r"\b[a-z][a-z0-9_]*\b", sql)
        if word.startswith(prefixes) and word not in tables
    ]
    return problems


@pytest.mark.parametrize(("name", "sql"), STATEMENTS, ids=IDS)
def test_string_literals_are_enum_values(name, sql):
    assert _literal_problems(sql) == []


@pytest.mark.parametrize(("name", "sql"), STATEMENTS, ids=IDS)
def test_table_names_are_the_models(name, sql):
    assert _table_problems(sql) == []


def test_the_checks_catch_a_stale_state_and_table():
    stale = "UPDATE annotation_assignments a SET state = 'leasd' FROM annotation_item i WHERE a.outcome = 'leased'"
    assert _literal_problems(stale) == [
        "'leasd' is no value of any model's choices",
        "state = 'leasd': no state has that value",
        "outcome = 'leased': no outcome has that value",
    ]
    assert _table_problems(stale) == [
        "no model has the table 'annotation_assignments'",
        ("'annotation_assignments' looks like a table and no model has it"),
    ]


def test_the_item_open_rule_is_written_once():
    """The claim and expiry statements carry the rule as item_open_sql writes it."""
    from annotation import sql

    assert sql.item_open_sql("i.taken + 1", "%(overlap)s", item="i") in sql.CLAIM_SQL
    assert sql.item_open_sql("i.taken - c.n", "p.overlap", item="i") in sql.EXPIRE_SQL


def test_the_import_copies_every_column_the_models_have():
    """COPY names its columns: a column added to a model without a default must reach the import."""
    from agora_datasets.imports import sql
    from annotation.imports import sql as shared
    from annotation.models import Candidate, Comparison, Item, Judgment, Score

    def columns(model) -> set[str]:
        return {f.column for f in model._meta.concrete_fields}

    assert set(shared.COMPARISON_COLUMNS) == columns(Comparison)
    assert set(shared.CANDIDATE_COLUMNS) == columns(Candidate) - {"id"}
    assert set(shared.ITEM_COLUMNS) == columns(Item) - {"id"}
    assert set(sql.JUDGMENT_COLUMNS) == columns(Judgment) - {"user_id"}  # imported judges are no users
    assert set(sql.SCORE_COLUMNS) == columns(Score) - {"id"}
