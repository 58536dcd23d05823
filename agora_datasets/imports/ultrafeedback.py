"""UltraFeedback (openbmb/UltraFeedback): one instruction, its completions (4 in the release) and
GPT-4's fine-grained ratings and critique of each.

A record: ``source`` (the dataset the instruction came from), ``instruction``, ``models``,
``correct_answers`` / ``incorrect_answers`` (references, ``["None"]`` outside TruthfulQA and
FLAN) and ``completions``, a list of ``{"model", "principle", "custom_system_prompt",
"response", "annotations", "critique", "overall_score", "fine-grained_score"}``.
``annotations`` holds the four aspects ``instruction_following``, ``honesty``,
``truthfulness`` and ``helpfulness``, each ``{"Rating": "1".."5" or "N/A", "Rationale"}``
(truthfulness and helpfulness add ``Type`` and ``Rationale For Rating``); the per-subset JSON
files the annotation scripts wrote hold each aspect as a list of one such object, which is
read the same way.

One comparison per record: the context is one user message, ``instruction``; each completion
is a candidate at its place in ``completions`` (model = ``model``, text = ``response``, empty
text allowed), with ``principle``, ``custom_system_prompt`` and any other field of the
completion in its metadata. The comparison's metadata holds ``dataset``, ``source``,
``correct_answers`` and ``incorrect_answers``; ``models`` is kept (in the judgment's
metadata) only where it differs from the completions' models. The key is a hash of the
instruction and the (model, response) pairs.

One judgment (judge kind ``ai``: GPT-4 rated them; the judge is ``--judge`` or the file's
name) whose scores are, per candidate, the four aspects' ratings (attributes
``instruction_following``, ``honesty``, ``truthfulness``, ``helpfulness``, 1..5),
``overall_score`` (the critique's 1..10) and ``fine-grained_score`` (the mean of the aspect
ratings). A rating of ``N/A`` (or a missing or NaN score) gives no score; its place is listed
in the judgment's metadata ``unrated`` (``{"2": ["honesty"]}``), and an ``N/A`` stays in
``annotations`` as it was. The judgment's metadata also keeps every annotation without its
rating, keyed by position (``annotations``: ``{"0": {"helpfulness": {"Rationale": …,
"Rationale For Rating": …, "Type": […]}, …}}``), the critiques (``critiques``: ``{"0": …}``)
and any other field of the record, so nothing the release holds is lost.
"""

from __future__ import annotations

import math
from datetime import datetime

from agora_datasets.imports.arena_hard import label
from agora_datasets.imports.files import JudgedFileFormat, decoded, require_fields
from annotation.imports.records import Record, RowError
from annotation.imports.rows import (
    MAX_CANDIDATES,
    CandidateRow,
    ComparisonRow,
    JudgmentRow,
    Row,
    ScoreRow,
    check_text,
    content_key,
)
from annotation.models import JudgeKind, Source

FIELDS = ("instruction", "completions")
PROMPT_FIELDS = ("source", "correct_answers", "incorrect_answers")
ASPECTS = ("instruction_following", "honesty", "truthfulness", "helpfulness")
SCORES = ("overall_score", "fine-grained_score")
COMPLETION_FIELDS = ("model", "response", "annotations", "critique", *SCORES)
NOT_RATED = "N/A"


class UltraFeedbackFormat(JudgedFileFormat):
    name = "ultrafeedback"

    def parse(self, record: Record, now: datetime) -> Row:
        data = record.data
        require_fields(data, FIELDS)
        instruction = check_text(data["instruction"], "instruction")
        completions = decoded(data["completions"], "completions")
        if not isinstance(completions, list) or not 1 <= len(completions) <= MAX_CANDIDATES:
            count = f"{len(completions)} completions" if isinstance(completions, list) else type(completions).__name__
            raise RowError(f"completions must be a list of 1 to {MAX_CANDIDATES} completions, got {count}")
        candidates, scores = [], []
        annotations, critiques, unrated = {}, {}, {}
        for position, completion in enumerate(completions):
            where = f"completions[{position}]"
            if not isinstance(completion, dict):
                raise RowError(f"{where} must be an object with model and response")
            if "model" not in completion or "response" not in completion:
                raise RowError(f"{where} must have model and response")
            candidates.append(
                CandidateRow(
                    position=position,
                    model=label(completion["model"], f"{where}.model"),
                    text=check_text(completion["response"], f"{where}.response"),
                    metadata={k: v for k, v in completion.items() if k not in COMPLETION_FIELDS},
                )
            )
            kept, missed = {}, []
            aspects = decoded(completion.get("annotations"), f"{where}.annotations")
            if aspects is None:
                aspects = {}
            if not isinstance(aspects, dict):
                raise RowError(f"{where}.annotations must be an object of aspects, got {type(aspects).__name__}")
            for aspect, annotation in aspects.items():
                annotation = _one_annotation(annotation, f"{where}.annotations.{aspect}")
                if annotation is None:
                    missed.append(aspect)
                    continue
                rating = _rating(annotation.get("Rating"), f"{where}.annotations.{aspect}.Rating")
                if rating is None:
                    missed.append(aspect)
                else:
                    scores.append(ScoreRow(position=position, attribute=aspect, value=rating))
                rest = {k: v for k, v in annotation.items() if k != "Rating" or rating is None}
                if rest:
                    kept[aspect] = rest
            missed.extend(a for a in ASPECTS if a not in aspects)
            for name in SCORES:
                value = _score(completion.get(name), f"{where}.{name}")
                if value is None:
                    missed.append(name)
                else:
                    scores.append(ScoreRow(position=position, attribute=name, value=value))
            if kept:
                annotations[str(position)] = kept
            if completion.get("critique") not in (None, ""):
                critiques[str(position)] = check_text(completion["critique"], f"{where}.critique")
            if missed:
                unrated[str(position)] = missed
        models = [c.model for c in candidates]
        extra = {k: v for k, v in data.items() if k not in (*FIELDS, *PROMPT_FIELDS, "models")}
        if data.get("models") not in (None, models):
            extra["models"] = data["models"]
        comparison = ComparisonRow(
            key=content_key("ultrafeedback", instruction, [[c.model, c.text] for c in candidates]),
            context=[{"role": "user", "content": instruction}],
            source=Source.IMPORT,
            created_at=now,
            metadata={"dataset": "ultrafeedback", **{k: data[k] for k in PROMPT_FIELDS if k in data}},
            candidates=candidates,
        )
        judgment = JudgmentRow(
            source=Source.IMPORT,
            judge_kind=JudgeKind.AI,
            judge=self.judge_label(),
            created_at=now,
            scores=scores,
            metadata={
                **extra,
                **({"annotations": annotations} if annotations else {}),
                **({"critiques": critiques} if critiques else {}),
                **({"unrated": unrated} if unrated else {}),
            },
        )
        return Row(comparison, judgment)


def _one_annotation(value, name: str) -> dict | None:
    """An aspect's annotation: an object, or (as the annotation scripts wrote it) a list of one."""
    if isinstance(value, list):
        if not value:
            return None
        if len(value) > 1:
            raise RowError(f"{name} holds {len(value)} annotations; one per aspect is read")
        value = value[0]
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RowError(f"{name} must be an object with Rating and Rationale, got {type(value).__name__}")
    return value


def _rating(value, name: str) -> float | None:
    """A 1..5 rating, as the release writes it ("4"); None for N/A or nothing."""
    if value is None or (isinstance(value, str) and value.strip().upper() == NOT_RATED):
        return None
    number = _number(value)
    if number is None or not 1 <= number <= 5:
        raise RowError(f'{name} must be 1 to 5 or "{NOT_RATED}", got {value!r}')
    return number


def _score(value, name: str) -> float | None:
    """``overall_score`` or ``fine-grained_score``: a number (a NaN or nothing: no score)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str) and value.strip().upper() in (NOT_RATED, "NAN", ""):
        return None
    number = _number(value)
    if number is None:
        raise RowError(f"{name} must be a number, got {value!r}")
    return number


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None
