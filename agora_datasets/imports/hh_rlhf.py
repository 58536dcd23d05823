"""Anthropic HH-RLHF: ``chosen`` and ``rejected``, each a whole transcript as text.

Both transcripts are split into turns at ``\\n\\nHuman:`` / ``\\n\\nAssistant:``. The context
is the turns they share, up to the last shared user turn; each transcript's last turn (an
assistant's) is a candidate: ``chosen`` at position 0, ``rejected`` at 1, outcome A (the
position says nothing about what the annotator saw; ``display_order`` stays unknown). When a
side's earlier turns differ from the shared context, that side keeps its whole conversation.

The release names no model (the answers came from Anthropic's unnamed models), and "chosen" is
a verdict, not a model: both candidates are labelled ``MODEL`` and carry ``{"hh_rlhf":
"chosen"}`` or ``"rejected"`` in their metadata. The judge (crowd workers, ``external``) is
``--judge`` or the file's name. The key is a hash of the two transcripts, so a pair repeated
in the file is one judgment, as everywhere else.
"""

from __future__ import annotations

from datetime import datetime

from agora_datasets.imports.files import JudgedFileFormat, require_fields
from agora_datasets.imports.transcripts import transcript_turns
from annotation.imports.records import Record, RowError
from annotation.imports.rows import CandidateRow, ComparisonRow, JudgmentRow, Row, content_key
from annotation.models import JudgeKind, Outcome, Source

MODEL = "hh-rlhf (unnamed model)"
FIELDS = ("chosen", "rejected")


class HhRlhfFormat(JudgedFileFormat):
    name = "hh-rlhf"

    def parse(self, record: Record, now: datetime) -> Row:
        data = record.data
        require_fields(data, FIELDS)
        sides = {name: transcript_turns(data[name], name) for name in FIELDS}
        for name, turns in sides.items():
            if turns[-1]["role"] != "assistant" or len(turns) < 2:
                raise RowError(f"{name} must end with an Assistant turn after a Human one")
        shared = []
        for a, b in zip(sides["chosen"][:-1], sides["rejected"][:-1], strict=False):
            if a != b:
                break
            shared.append(a)
        while shared and shared[-1]["role"] != "user":
            shared.pop()
        if not shared:
            raise RowError("chosen and rejected share no opening Human turn")
        candidates = [
            CandidateRow(
                position=position,
                model=MODEL,
                text=turns[-1]["content"],
                conversation=None if turns[:-1] == shared else turns,
                metadata={"hh_rlhf": name},
            )
            for position, (name, turns) in enumerate(sides.items())
        ]
        comparison = ComparisonRow(
            key=content_key("hh-rlhf", data["chosen"], data["rejected"]),
            context=shared,
            source=Source.IMPORT,
            created_at=now,
            metadata={"dataset": "hh-rlhf"},
            candidates=candidates,
        )
        judgment = JudgmentRow(
            source=Source.IMPORT,
            judge_kind=JudgeKind.EXTERNAL,
            judge=self.judge_label(),
            created_at=now,
            outcome=Outcome.A,
            metadata={k: v for k, v in data.items() if k not in FIELDS},
        )
        return Row(comparison, judgment)
