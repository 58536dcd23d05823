"""NVIDIA HelpSteer2 (nvidia/HelpSteer2): the per-response ratings and the preferences between them.

Both files are published gzipped (``train.jsonl.gz``, ``validation.jsonl.gz``,
``preference/preference.jsonl.gz``); ``files.read_records`` reads a ``.gz`` file as gzipped
JSON lines, so ``--format auto`` recognises them too. A ``prompt`` may hold a whole
conversation: the user turns and all but the last assistant turn, joined as ``{user 1}\\n<extra_id_1>Assistant\\n
{assistant 1}\\n<extra_id_1>User\\n{user 2}``; it is split into turns (``prompt_turns``) and
must end with a user turn. The release names no model (10 in-house models wrote the
responses), so every candidate is labelled ``MODEL``. Both formats key a comparison by a hash
of the prompt and its responses in order, so the ratings and the preference on the same pair
meet on one comparison (its candidates and their metadata are those of the file imported
first).

``helpsteer2`` (``train`` / ``validation``): one row per response, ``prompt``, ``response`` and
five ratings, ``helpfulness``, ``correctness``, ``coherence``, ``complexity``,
``verbosity``, whole numbers 0..4 (the mean of the annotators who agreed most). The release
writes a prompt's responses (two) on consecutive rows, so ``records()`` joins consecutive rows
with the same prompt into one record (holding only that group) and each group becomes one
comparison: its responses are the candidates in file order, each with its row number (the
line, or the Parquet row) and any other field in its metadata, and one judgment (judge kind
``external``: Scale AI's annotators; the judge is ``--judge`` or the file's name) holds the
five ratings of each as scores. A prompt with a single response is refused (nothing to compare
it with), as is a row whose ratings are lists (``disagreements.jsonl.gz``: one rating per
annotator).

``helpsteer2-preference`` (``preference/preference.jsonl.gz``): ``split``, ``prompt``,
``response_1``, ``response_2``, ``preference_strength`` (-3: response 1 is much better … 0:
about the same … 3: response 2 is much better), ``preference_statement``,
``preference_elaboration``, ``three_most_similar_preferences`` (``statement``,
``elaboration``, ``strength`` of the annotators whose preferences made the overall one) and
``all_preferences_unprocessed`` (``strength``, ``justification`` of every annotator). The
responses are candidates 0 and 1; the strength is Agora's ``strength`` as it is (negative
favours position 0, A) and its sign the outcome (0: a tie); the rationale is the statement, a
blank line and the elaboration; ``split``, both lists of annotators' preferences and any
other field go to the judgment's metadata. Judge kind ``external``, ``--judge`` or the file's
name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from agora_datasets.imports.files import JudgedFileFormat, decoded, read_records
from annotation.imports.records import Record, RowError
from annotation.imports.rows import (
    MAX_CANDIDATES,
    CandidateRow,
    ComparisonRow,
    JudgmentRow,
    Row,
    ScoreRow,
    check_int,
    check_text,
    content_key,
)
from annotation.models import JudgeKind, Outcome, Source

MODEL = "helpsteer2 (unnamed model)"
ATTRIBUTES = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")
RATING_FIELDS = ("prompt", "response", *ATTRIBUTES)
PREFERENCE_FIELDS = ("prompt", "response_1", "response_2", "preference_strength")
RATIONALE_FIELDS = ("preference_statement", "preference_elaboration")
ANNOTATOR_FIELDS = ("three_most_similar_preferences", "all_preferences_unprocessed")

_TURN = re.compile(r"\n?<extra_id_1>(User|Assistant)\n?")
ROLES = {"User": "user", "Assistant": "assistant"}


def prompt_turns(text, name: str = "prompt") -> list[dict]:
    """A HelpSteer prompt as messages: the text before the first ``<extra_id_1>`` marker is the
    first user turn, each marker starts a turn of its role; the last turn must be a user's."""
    text = check_text(text, name)
    parts = _TURN.split(text)
    messages = [] if parts[0] == "" and len(parts) > 1 else [{"role": "user", "content": parts[0]}]
    messages += [
        {"role": ROLES[role], "content": content} for role, content in zip(parts[1::2], parts[2::2], strict=True)
    ]
    if messages[-1]["role"] != "user":
        raise RowError(f"{name} must end with a user turn; its last turn follows <extra_id_1>Assistant")
    return messages


def whole(value, name: str, *, low: int, high: int) -> int:
    """A whole number, also as a CSV cell writes it ("3", "-2")."""
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]{1,3}\s*", value):
        value = int(value)
    return check_int(value, name, low=low, high=high)


def helpsteer_key(prompt: str, responses: list[str]) -> str:
    return content_key("helpsteer2", prompt, responses)


class HelpSteer2Format(JudgedFileFormat):
    name = "helpsteer2"

    def records(self) -> Iterator[Record]:
        """Consecutive rows with the same prompt as one record: ``rows``, their ``lines``, and
        ``more``, how many rows past ``MAX_CANDIDATES`` were counted and not held."""
        group: list[Record] = []
        more = 0
        for record in read_records(self.path):
            if group and (record.data is None or record.data.get("prompt") != group[0].data.get("prompt")):
                yield _joined(group, more)
                group, more = [], 0
            if record.data is None:
                yield record
            elif len(group) > MAX_CANDIDATES:
                more += 1
            else:
                group.append(record)
        if group:
            yield _joined(group, more)

    def parse(self, record: Record, now: datetime) -> Row:
        rows, lines = record.data["rows"], record.data["lines"]
        count = len(rows) + record.data["more"]
        if count > MAX_CANDIDATES:
            raise RowError(
                f"{count} consecutive rows (lines {lines[0]}–{lines[0] + count - 1}) share one prompt; "
                f"a comparison holds at most {MAX_CANDIDATES} responses"
            )
        candidates, scores = [], []
        for position, (line, data) in enumerate(zip(lines, rows, strict=True)):
            where = f"response {position + 1} (line {line}): " if len(rows) > 1 else ""
            missing = [
                name for name in RATING_FIELDS if data.get(name) is None or (name == "prompt" and not data[name])
            ]
            if missing:
                raise RowError(f"{where}missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
            for attribute in ATTRIBUTES:
                value = data[attribute]
                if isinstance(value, list):
                    raise RowError(
                        f"{where}{attribute} is a list (one rating per annotator, as disagreements.jsonl.gz "
                        "has them); this format reads the agreed ratings of train/validation"
                    )
                value = whole(value, f"{where}{attribute}", low=0, high=4)
                scores.append(ScoreRow(position=position, attribute=attribute, value=float(value)))
            candidates.append(
                CandidateRow(
                    position=position,
                    model=MODEL,
                    text=check_text(data["response"], f"{where}response"),
                    metadata={"row": line, **{k: v for k, v in data.items() if k not in RATING_FIELDS}},
                )
            )
        if len(rows) == 1:
            raise RowError(
                "this prompt has one response and nothing to compare it with "
                "(the release writes each prompt's responses on consecutive rows)"
            )
        prompt = rows[0]["prompt"]
        comparison = ComparisonRow(
            key=helpsteer_key(prompt, [c.text for c in candidates]),
            context=prompt_turns(prompt),
            source=Source.IMPORT,
            created_at=now,
            metadata={"dataset": "helpsteer2"},
            candidates=candidates,
        )
        judgment = JudgmentRow(
            source=Source.IMPORT,
            judge_kind=JudgeKind.EXTERNAL,
            judge=self.judge_label(),
            created_at=now,
            scores=scores,
        )
        return Row(comparison, judgment)


def _joined(records: list[Record], more: int) -> Record:
    data = {"rows": [r.data for r in records], "lines": [r.line for r in records], "more": more}
    return Record(records[0].line, data, None, records[-1].position)


class HelpSteer2PreferenceFormat(JudgedFileFormat):
    name = "helpsteer2-preference"

    def records(self) -> Iterator[Record]:
        return read_records(self.path)

    def parse(self, record: Record, now: datetime) -> Row:
        data = record.data
        # An empty response is a response (and a candidate); an empty prompt or strength is nothing.
        missing = [name for name in PREFERENCE_FIELDS if data.get(name) is None or data[name] in ("", [])]
        missing = [name for name in missing if data.get(name) is None or not name.startswith("response_")]
        if missing:
            raise RowError(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        context = prompt_turns(data["prompt"])
        strength = whole(data["preference_strength"], "preference_strength", low=-3, high=3)
        outcome = Outcome.A if strength < 0 else Outcome.B if strength > 0 else Outcome.TIE
        texts = [check_text(data[name], name) for name in ("response_1", "response_2")]
        parts = [check_text(data.get(name), name, required=False) for name in RATIONALE_FIELDS]
        comparison = ComparisonRow(
            key=helpsteer_key(data["prompt"], texts),
            context=context,
            source=Source.IMPORT,
            created_at=now,
            metadata={"dataset": "helpsteer2"},
            candidates=[CandidateRow(position=p, model=MODEL, text=text) for p, text in enumerate(texts)],
        )
        judgment = JudgmentRow(
            source=Source.IMPORT,
            judge_kind=JudgeKind.EXTERNAL,
            judge=self.judge_label(),
            created_at=now,
            outcome=outcome,
            strength=strength,
            rationale="\n\n".join(part for part in parts if part.strip()),
            metadata={
                k: decoded(v, k) if k in ANNOTATOR_FIELDS else v
                for k, v in data.items()
                if k not in (*PREFERENCE_FIELDS, *RATIONALE_FIELDS)
            },
        )
        return Row(comparison, judgment)
