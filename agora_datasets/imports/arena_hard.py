"""arena-hard-auto battle records: ``question_id``, ``model_a``, ``model_b``, ``winner``, nothing else.

This is what arena-hard-auto's ``show_result.py`` builds from its judgments before fitting
Bradley-Terry: one line per game, ``winner`` ∈ ``model_a`` / ``model_b`` / ``tie`` /
``tie (bothbad)``, and a strong verdict (``A>>B``) written as three identical lines. The file
names neither the judge nor any text:

* the judge is ``--judge LABEL``, or else the file's name without its extension
  (``gpt-4-1106-preview.jsonl`` → ``gpt-4-1106-preview``); judges here are models (``ai``);
* each repeat of a line is a judgment of its own, on a comparison of its own: the n-th
  occurrence of (question, model_a, model_b) in the file gets the key
  ``arena-hard:<question_id>:<model_a>:<model_b>:<n>``, so a rating fitted on the import
  counts the three lines three times, as arena-hard-auto does, and importing the file again
  finds the same keys and adds nothing;
* the context is one empty user turn and the candidates have empty text (the questions and
  answers live in other arena-hard-auto files); ``question_id`` is in the comparison's metadata.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime

from agora_datasets.imports.arena import WINNERS
from agora_datasets.imports.files import JudgedFileFormat, require_fields
from annotation.imports.records import Record, RowError
from annotation.imports.rows import CandidateRow, ComparisonRow, JudgmentRow, Row, check_label, content_key
from annotation.models import JudgeKind, Source

FIELDS = ("question_id", "model_a", "model_b", "winner")


def label(value, name: str) -> str:
    """A label that a release may write as a number (ids, hashes)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return check_label(value, name)


class ArenaHardFormat(JudgedFileFormat):
    name = "arena-hard"

    def records(self) -> Iterator[Record]:
        self.seen: Counter = Counter()  # each read numbers the repeats afresh, the same way
        return super().records()

    def parse(self, record: Record, now: datetime) -> Row:
        data = record.data
        require_fields(data, FIELDS)
        question = label(data["question_id"], "question_id")
        model_a = label(data["model_a"], "model_a")
        model_b = label(data["model_b"], "model_b")
        if model_a == model_b:
            raise RowError(f"model_a and model_b are both {model_a!r}")
        winner = data["winner"]
        if not isinstance(winner, str) or winner not in WINNERS:
            raise RowError(f"winner must be one of {', '.join(WINNERS)}, got {winner!r}")
        outcome, both_bad = WINNERS[winner]
        self.seen[(question, model_a, model_b)] += 1
        repeat = self.seen[(question, model_a, model_b)]
        key = f"arena-hard:{question}:{model_a}:{model_b}:{repeat}"
        if len(key) > 200:
            key = content_key("arena-hard", question, model_a, model_b, repeat)
        comparison = ComparisonRow(
            key=key,
            context=[{"role": "user", "content": ""}],
            source=Source.IMPORT,
            created_at=now,
            metadata={"dataset": "arena-hard-auto", "question_id": question, "repeat": repeat},
            candidates=[
                CandidateRow(position=0, model=model_a, text=""),
                CandidateRow(position=1, model=model_b, text=""),
            ],
        )
        judgment = JudgmentRow(
            source=Source.IMPORT,
            judge_kind=JudgeKind.AI,
            judge=self.judge_label(),
            created_at=now,
            outcome=outcome,
            both_bad=both_bad,
            metadata={k: v for k, v in data.items() if k not in FIELDS},
        )
        return Row(comparison, judgment)
