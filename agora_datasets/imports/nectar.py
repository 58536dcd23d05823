"""Nectar (berkeley-nest): ``prompt`` (a "\\n\\nHuman: …\\n\\nAssistant:" transcript) and ``answers``,
a list of ``{"answer", "model", "rank"}`` (7 in the release), rank 1 the best.

One comparison per record: the prompt's turns are the context, each answer a candidate in the
file's order (position = index in ``answers``, model = ``model``). One judgment holds the
ranking as the ranking task type stores it: groups of positions, best first, equal ranks in
one group (``[[2], [0], [5, 6], …]``). The ranks were GPT-4's; the judge (``ai``) is
``--judge`` or the file's name. ``turns``, ``num_responses``, ``source``, ``good_natured`` and
any other field go to the judgment's metadata. The key is a hash of the prompt and the answers.
"""

from __future__ import annotations

from datetime import datetime

from agora_datasets.imports.arena_hard import label
from agora_datasets.imports.files import JudgedFileFormat, decoded, require_fields
from agora_datasets.imports.transcripts import transcript_turns
from annotation.imports.records import Record, RowError
from annotation.imports.rows import (
    MAX_CANDIDATES,
    CandidateRow,
    ComparisonRow,
    JudgmentRow,
    Row,
    check_int,
    check_text,
    content_key,
)
from annotation.models import JudgeKind, Source

FIELDS = ("prompt", "answers")


class NectarFormat(JudgedFileFormat):
    name = "nectar"

    def parse(self, record: Record, now: datetime) -> Row:
        data = record.data
        require_fields(data, FIELDS)
        context = transcript_turns(data["prompt"], "prompt")
        if context[-1]["role"] != "user":
            raise RowError('prompt must end with a Human turn (and an empty "Assistant:")')
        answers = decoded(data["answers"], "answers")
        if not isinstance(answers, list) or not 2 <= len(answers) <= MAX_CANDIDATES:
            raise RowError(f"answers must be a list of 2 to {MAX_CANDIDATES} answers")
        candidates, ranks = [], {}
        for position, answer in enumerate(answers):
            where = f"answers[{position}]"
            if not isinstance(answer, dict) or any(k not in answer for k in ("answer", "model", "rank")):
                raise RowError(f"{where} must have answer, model and rank")
            if answer["rank"] is None:
                raise RowError(f"{where}.rank must be a whole number from 1, got nothing")
            ranks[position] = check_int(answer["rank"], f"{where}.rank", low=1)
            extra = {k: v for k, v in answer.items() if k not in ("answer", "model", "rank")}
            candidates.append(
                CandidateRow(
                    position=position,
                    model=label(answer["model"], f"{where}.model"),
                    text=check_text(answer["answer"], f"{where}.answer"),
                    metadata=extra,
                )
            )
        ranking = [sorted(p for p, r in ranks.items() if r == level) for level in sorted(set(ranks.values()))]
        comparison = ComparisonRow(
            key=content_key("nectar", data["prompt"], [[c.model, c.text] for c in candidates]),
            context=context,
            source=Source.IMPORT,
            created_at=now,
            metadata={"dataset": "nectar"},
            candidates=candidates,
        )
        judgment = JudgmentRow(
            source=Source.IMPORT,
            judge_kind=JudgeKind.AI,
            judge=self.judge_label(),
            created_at=now,
            ranking=ranking,
            metadata={k: v for k, v in data.items() if k not in FIELDS},
        )
        return Row(comparison, judgment)
