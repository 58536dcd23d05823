"""Copilot Arena code-completion battles, as lmarena's copilot-arena repository releases them
(``data/copilot_arena_examples_v1.csv``): ``prefix``, ``suffix``, ``model_a``, ``model_b``,
``acceptedIndex``, ``completion_a``, ``completion_b``.

The VS Code extension showed two completions of the code at the cursor, one above the other (which
one on top was drawn at random and is not in the release); the developer accepted one with Tab or
Shift-Tab. One comparison and one judgment per record:

* the context is one user message holding the code around the cursor, ``prefix + "<CURSOR>" +
  suffix`` (the marker is there even when the suffix is empty); ``prefix`` and ``suffix`` are also
  kept verbatim in the comparison's metadata (with ``dataset`` "copilot-arena" and
  ``cursor_marker``), so the marker never has to be parsed back out;
* ``completion_a`` (by ``model_a``) is candidate 0, ``completion_b`` (by ``model_b``) candidate 1;
* ``acceptedIndex`` 0 is outcome A, 1 outcome B (the CSV writes them ``0.0`` / ``1.0``);
  ``display_order`` stays unknown;
* the developers are anonymous: the judge (``external``) is ``--judge`` or the file's name;
* a ``language`` field, where a release has one and it fits 50 characters, is the comparison's
  language; every other field (ids, timestamps, …) goes to the judgment's metadata as written. A
  text field that is null (Parquet) is read as empty text and listed in the metadata's
  ``null_fields``;
* the key is a hash of the prefix, the suffix and both (model, completion) pairs.
"""

from __future__ import annotations

from datetime import datetime

from agora_datasets.imports.arena_hard import label
from agora_datasets.imports.files import JudgedFileFormat
from annotation.imports.records import Record, RowError
from annotation.imports.rows import CandidateRow, ComparisonRow, JudgmentRow, Row, check_text, content_key
from annotation.models import JudgeKind, Outcome, Source

DATASET = "copilot-arena"
CURSOR = "<CURSOR>"
TEXTS = ("prefix", "suffix", "completion_a", "completion_b")
FIELDS = (*TEXTS, "model_a", "model_b", "acceptedIndex")
ACCEPTED = {0: Outcome.A, 1: Outcome.B}


def accepted_index(value) -> int:
    """0 or 1, as the release writes it: a number (``0``, ``1.0``) or, in CSV, its text."""
    number = value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, (int, float)) or number not in (0, 1):
        raise RowError(f"acceptedIndex must be 0 (completion_a) or 1 (completion_b), got {value!r}")
    return int(number)


class CopilotArenaFormat(JudgedFileFormat):
    name = "copilot-arena"

    def parse(self, record: Record, now: datetime) -> Row:
        data = record.data
        missing = [name for name in FIELDS if name not in data]
        missing += [name for name in ("model_a", "model_b", "acceptedIndex") if data.get(name) in (None, "")]
        if missing:
            missing = list(dict.fromkeys(missing))
            raise RowError(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        nulls = [name for name in TEXTS if data[name] is None]
        texts = {name: check_text("" if data[name] is None else data[name], name) for name in TEXTS}
        model_a, model_b = label(data["model_a"], "model_a"), label(data["model_b"], "model_b")
        outcome = ACCEPTED[accepted_index(data["acceptedIndex"])]

        metadata = {k: v for k, v in data.items() if k not in FIELDS}
        language = metadata.get("language")
        if isinstance(language, str) and language.strip() and len(language) <= 50:
            metadata.pop("language")
        else:
            language = ""
        if nulls:
            metadata["null_fields"] = nulls
        prefix, suffix = texts["prefix"], texts["suffix"]
        comparison = ComparisonRow(
            key=content_key(
                DATASET, prefix, suffix, [model_a, texts["completion_a"]], [model_b, texts["completion_b"]]
            ),
            context=[{"role": "user", "content": prefix + CURSOR + suffix}],
            source=Source.IMPORT,
            created_at=now,
            language=language,
            metadata={"dataset": DATASET, "prefix": prefix, "suffix": suffix, "cursor_marker": CURSOR},
            candidates=[
                CandidateRow(position=0, model=model_a, text=texts["completion_a"]),
                CandidateRow(position=1, model=model_b, text=texts["completion_b"]),
            ],
        )
        judgment = JudgmentRow(
            source=Source.IMPORT,
            judge_kind=JudgeKind.EXTERNAL,
            judge=self.judge_label(),
            created_at=now,
            outcome=outcome,
            metadata=metadata,
        )
        return Row(comparison, judgment)
