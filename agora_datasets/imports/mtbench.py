"""MT-Bench pairwise judgments: the human and GPT-4 verdicts of ``lmsys/mt_bench_human_judgments``,
and llm_judge's own GPT-4 judgment files.

Both formats judge one turn of an 80-question, two-turn benchmark, so both build the same
comparison for a (question, turn, pair of models), and every judge's verdict on it, human or
GPT-4, from either file, meets on that one comparison:

* the conversation is cut at the judged turn: the context is the messages before that turn's
  answer (turn 1: the first question; turn 2: the first question, the first answer of the
  candidate at position 0 and the second question) and each candidate is that turn's answer;
  for turn 2 the candidate at position 1 keeps its own whole conversation (its own first
  answer), as the ``arena`` format does for multi-turn battles;
* the candidates are placed by model name (position 0 is the name that sorts first), whatever
  order a record names them in; the key is ``mt-bench:<question_id>:<turn>:<model 0>:<model 1>``
  (a hash of those when longer than 200 characters); the comparison's metadata holds
  ``dataset`` ("mt-bench"), ``question_id`` and ``turn``.

``mt-bench`` — the Hugging Face release (splits ``human``, 3,355 votes by experts and authors,
and ``gpt4_pair``, 2,400 GPT-4 verdicts): ``question_id`` (int), ``model_a``, ``model_b``,
``winner`` (``model_a`` / ``model_b`` / ``tie``; ``tie (inconsistent)`` in ``gpt4_pair``, where
GPT-4 judged both orders and changed its verdict; ``tie (bothbad)`` is read too), ``judge``
(``expert_12``, ``author_0``, ``gpt4_pair``), ``conversation_a`` / ``conversation_b`` (lists of
``{"role", "content"}`` holding the whole two-turn conversation) and ``turn`` (1 or 2, the turn
the verdict is about). The judge is ``judge`` as written; its kind is ``ai`` when it starts with
``gpt4`` or ``gpt-4``, else ``external``. A human saw ``model_a`` as assistant A, so the
judgment's ``display_order`` says where ``model_a`` landed; GPT-4's verdicts merge both orders
and have none. ``tie (inconsistent)`` is a tie with ``{"inconsistent": true}`` in the judgment's
metadata; any field besides these is kept there too.

``mt-bench-judge`` — llm_judge's ``data/mt_bench/model_judgment/gpt-4_pair.jsonl`` (FastChat
``play_a_match_pair``): ``question_id``, ``model_1``, ``model_2``, ``judge``
(``["gpt-4", "pair-v2"]``: the judge model and its prompt), ``g1_winner`` / ``g2_winner``
(``model_1`` / ``model_2`` / ``tie`` / ``error``; game 1 showed ``model_1`` as A, game 2
swapped them), ``g1_user_prompt`` / ``g1_judgment`` / ``g2_user_prompt`` / ``g2_judgment``,
``turn`` and ``tstamp``. The question and both answers are read back out of the judge's prompt,
which must follow one of llm_judge's pairwise templates (``pair-v2``, ``pair-math-v1`` and
their ``-multi-turn`` forms), and the two games' prompts must hold the same texts swapped. One
judgment per record, as llm_judge's ``show_result.py`` counts it: the games' verdict when they
agree, a tie when they disagree (``{"inconsistent": true}`` in metadata), no verdict when either
game is ``error`` (show_result leaves those out). The judge is the judge model (``gpt-4``,
kind ``ai``); the judgment's metadata keeps ``g1_winner``, ``g2_winner``, ``g2_judgment``,
``judge_prompt`` (and ``template`` where the prompt follows another name's template) and, for
the math prompts, ``reference_answers``; the rationale is
``g1_judgment``; ``tstamp`` is the judgment's time. The user prompts are not stored: they are
the template filled with the context, the candidates and the reference answers, which the
import checks, and the report lists them as dropped.
"""

from __future__ import annotations

import re
import string
from datetime import datetime

from agora_datasets.imports.arena import unix_time
from agora_datasets.imports.arena_hard import label
from agora_datasets.imports.files import FileFormat, decoded, require_fields
from annotation.imports.records import Record, RowError
from annotation.imports.rows import (
    CandidateRow,
    ComparisonRow,
    JudgmentRow,
    Row,
    check_int,
    check_label,
    check_messages,
    check_text,
    content_key,
    message_text,
)
from annotation.models import JudgeKind, Outcome, Source

DATASET = "mt-bench"
HUMAN_FIELDS = ("question_id", "model_a", "model_b", "winner", "judge", "conversation_a", "conversation_b", "turn")
# winner → (side that won or None, both bad, inconsistent)
WINNERS = {
    "model_a": ("model_a", False, False),
    "model_b": ("model_b", False, False),
    "tie": (None, False, False),
    "tie (bothbad)": (None, True, False),
    "tie (inconsistent)": (None, False, True),
}
AI_JUDGES = ("gpt4", "gpt-4")


def _turn(value) -> int:
    if isinstance(value, str) and value.strip().isdigit():  # CSV
        value = int(value)
    return check_int(value, "turn", low=1)


def _cut(conversation: list, turn: int, name: str) -> list:
    """The conversation up to and including its ``turn``-th answer."""
    answers = [index for index, message in enumerate(conversation) if message["role"] == "assistant"]
    if len(answers) < turn:
        raise RowError(f"{name} has {len(answers)} answer(s); turn {turn} needs {turn}")
    cut = conversation[: answers[turn - 1] + 1]
    if len(cut) < 2 or cut[-2]["role"] != "user":
        raise RowError(f"{name}: answer {turn} does not follow a user turn")
    return cut


def comparison_for(question: str, question_id, turn: int, sides: list[tuple[str, list]], now) -> ComparisonRow:
    """The comparison of one turn: ``sides`` are (model, conversation cut at that turn's answer)."""
    (first, first_conversation), (second, second_conversation) = sorted(sides, key=lambda side: side[0])
    if first == second:
        raise RowError(f"both sides are {first!r}")

    def users(conversation):
        return [m for m in conversation if m["role"] == "user"]

    if users(first_conversation) != users(second_conversation):
        raise RowError("the two conversations must share the same user turns")
    context = first_conversation[:-1]
    key = f"{DATASET}:{question}:{turn}:{first}:{second}"
    if len(key) > 200:
        key = content_key(DATASET, question, turn, first, second)
    return ComparisonRow(
        key=key,
        context=context,
        source=Source.IMPORT,
        created_at=now,
        metadata={"dataset": DATASET, "question_id": question_id, "turn": turn},
        candidates=[
            _candidate(0, first, first_conversation, context),
            _candidate(1, second, second_conversation, context),
        ],
    )


def _candidate(position: int, model: str, conversation: list, context: list) -> CandidateRow:
    own = conversation[:-1] != context or conversation[-1].keys() != {"role", "content"}
    return CandidateRow(
        position=position, model=model, text=message_text(conversation[-1]), conversation=conversation if own else None
    )


def _position(comparison: ComparisonRow, model: str) -> int:
    return 0 if comparison.candidates[0].model == model else 1


class MtBenchFormat(FileFormat):
    name = "mt-bench"

    def parse(self, record: Record, now: datetime) -> Row:
        data = record.data
        require_fields(data, HUMAN_FIELDS)
        question = label(data["question_id"], "question_id")
        models = {side: label(data[side], side) for side in ("model_a", "model_b")}
        judge = label(data["judge"], "judge")
        winner = data["winner"]
        if not isinstance(winner, str) or winner not in WINNERS:
            raise RowError(f"winner must be one of {', '.join(WINNERS)}, got {winner!r}")
        won, both_bad, inconsistent = WINNERS[winner]
        turn = _turn(data["turn"])
        sides = []
        for side, conversation in (("model_a", "conversation_a"), ("model_b", "conversation_b")):
            messages = check_messages(decoded(data[conversation], conversation), conversation)
            sides.append((models[side], _cut(messages, turn, conversation)))
        comparison = comparison_for(question, data["question_id"], turn, sides, now)

        a_at = _position(comparison, models["model_a"])
        is_ai = judge.lower().startswith(AI_JUDGES)
        if won is None:
            outcome = Outcome.TIE
        else:
            outcome = Outcome.A if _position(comparison, models[won]) == 0 else Outcome.B
        metadata = {k: v for k, v in data.items() if k not in HUMAN_FIELDS}
        if inconsistent:
            metadata["inconsistent"] = True
        judgment = JudgmentRow(
            source=Source.IMPORT,
            judge_kind=JudgeKind.AI if is_ai else JudgeKind.EXTERNAL,
            judge=judge,
            created_at=now,
            display_order=None if is_ai else [a_at, 1 - a_at],
            outcome=outcome,
            both_bad=both_bad,
            metadata=metadata,
        )
        return Row(comparison, judgment)


# --- llm_judge's judgment files ------------------------------------------------------------------

_MULTI_TURN = (
    "<|The Start of Assistant A's Conversation with User|>\n\n### User:\n{question_1}\n\n### Assistant A:\n"
    "{answer_a_1}\n\n### User:\n{question_2}\n\n### Assistant A:\n{answer_a_2}\n\n"
    "<|The End of Assistant A's Conversation with User|>\n\n\n"
    "<|The Start of Assistant B's Conversation with User|>\n\n### User:\n{question_1}\n\n### Assistant B:\n"
    "{answer_b_1}\n\n### User:\n{question_2}\n\n### Assistant B:\n{answer_b_2}\n\n"
    "<|The End of Assistant B's Conversation with User|>"
)
_ANSWERS = (
    "[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's Answer]\n\n"
    "[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]"
)
# llm_judge's pairwise prompt templates (data/judge_prompts.jsonl), the more specific first: a
# math prompt would also fit pair-v2 with the reference answer taken into the question.
TEMPLATES = {
    "pair-math-v1-multi-turn": (
        "<|The Start of Reference Answer|>\n\n### User:\n{question_1}\n\n### Reference answer:\n{ref_answer_1}\n\n"
        "### User:\n{question_2}\n\n### Reference answer:\n{ref_answer_2}\n\n<|The End of Reference Answer|>\n\n\n"
        + _MULTI_TURN
    ),
    "pair-v2-multi-turn": _MULTI_TURN,
    "pair-math-v1": (
        "[User Question]\n{question}\n\n[The Start of Reference Answer]\n{ref_answer_1}\n"
        "[The End of Reference Answer]\n\n" + _ANSWERS
    ),
    "pair-v2": "[User Question]\n{question}\n\n" + _ANSWERS,
}


def _pattern(template: str) -> re.Pattern:
    parts, seen = [], set()
    for literal, name, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name:
            parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.*?)")
            seen.add(name)
    return re.compile("".join(parts), re.DOTALL)


PATTERNS = {name: _pattern(template) for name, template in TEMPLATES.items()}
GAMES = {"model_1", "model_2", "tie", "error"}
JUDGE_FIELDS = ("question_id", "model_1", "model_2", "judge", "g1_winner", "g2_winner")
TEXT_FIELDS = ("g1_user_prompt", "g1_judgment", "g2_user_prompt", "g2_judgment")
KNOWN = {*JUDGE_FIELDS, *TEXT_FIELDS, "turn", "tstamp"}
DROPPED_PROMPT = (
    "the judge's prompt: llm_judge's template (metadata judge_prompt) filled with the context, the candidates"
    " and any reference_answers, as checked on import"
)


def _judge(value) -> tuple[str, str | None]:
    """(judge model, prompt name) from llm_judge's ``["gpt-4", "pair-v2"]`` (or a bare name)."""
    value = decoded(value, "judge") if isinstance(value, str) and value.startswith("[") else value
    if isinstance(value, str):
        return check_label(value, "judge"), None
    if isinstance(value, list) and 1 <= len(value) <= 2 and all(isinstance(v, str) for v in value):
        prompt = check_label(value[1], "judge[1]", max_length=100) if len(value) == 2 else None
        return check_label(value[0], "judge[0]"), prompt
    raise RowError(f'judge must be the judge model and its prompt, like ["gpt-4", "pair-v2"], got {value!r}')


def _read_prompt(prompt: str, hint: str | None) -> tuple[str, dict]:
    names = [hint] if hint in PATTERNS else list(PATTERNS)
    for name in names:
        match = PATTERNS[name].fullmatch(prompt)
        if match:
            return name, match.groupdict()
    raise RowError(
        f"g1_user_prompt does not follow llm_judge's {hint or 'pairwise'} template "
        f"({', '.join(TEMPLATES)}): its question and answers cannot be read"
    )


def _swapped(parts: dict) -> dict:
    return {
        (k.replace("answer_a", "answer_b") if "answer_a" in k else k.replace("answer_b", "answer_a")): v
        for k, v in parts.items()
    }


class MtBenchJudgeFormat(FileFormat):
    name = "mt-bench-judge"

    def parse(self, record: Record, now: datetime) -> Row:
        data = record.data
        require_fields(data, (*JUDGE_FIELDS, "g1_user_prompt", "g2_user_prompt"))
        question = label(data["question_id"], "question_id")
        model_1, model_2 = label(data["model_1"], "model_1"), label(data["model_2"], "model_2")
        judge, prompt_name = _judge(data["judge"])
        games = {}
        for game in ("g1_winner", "g2_winner"):
            if not isinstance(data[game], str) or data[game] not in GAMES:
                raise RowError(f"{game} must be one of {', '.join(sorted(GAMES))}, got {data[game]!r}")
            games[game] = data[game]
        texts = {name: check_text(data.get(name), name, required=name.endswith("prompt")) for name in TEXT_FIELDS}

        template, parts = _read_prompt(texts["g1_user_prompt"], prompt_name)
        second = PATTERNS[template].fullmatch(texts["g2_user_prompt"])
        if not second or second.groupdict() != _swapped(parts):
            raise RowError(f"g2_user_prompt must be g1's {template} prompt with the two answers swapped")
        multi_turn = "answer_a_2" in parts
        turn = 2 if multi_turn else 1
        if data.get("turn") is not None and _turn(data["turn"]) != turn:
            raise RowError(f"turn is {data['turn']!r}, but the judge's prompt ({template}) is about turn {turn}")

        def conversation(side: str) -> list:
            if not multi_turn:
                return [{"role": "user", "content": parts["question"]}, {"role": "assistant", "content": parts[side]}]
            return [
                {"role": "user", "content": parts["question_1"]},
                {"role": "assistant", "content": parts[f"{side}_1"]},
                {"role": "user", "content": parts["question_2"]},
                {"role": "assistant", "content": parts[f"{side}_2"]},
            ]

        comparison = comparison_for(
            question,
            data["question_id"],
            turn,
            [(model_1, conversation("answer_a")), (model_2, conversation("answer_b"))],
            now,
        )
        g1, g2 = games["g1_winner"], games["g2_winner"]
        metadata = {k: v for k, v in data.items() if k not in KNOWN} | {
            "g1_winner": g1,
            "g2_winner": g2,
            "judge_prompt": prompt_name or template,
        }
        if prompt_name and prompt_name != template:
            metadata["template"] = template  # the template its prompt follows, under another name
        if data.get("g2_judgment") is not None:
            metadata["g2_judgment"] = texts["g2_judgment"]
        refs = [parts[name] for name in ("ref_answer_1", "ref_answer_2") if name in parts]
        if refs:
            metadata["reference_answers"] = refs
        if "error" in (g1, g2):
            outcome = None
        elif g1 != g2 or g1 == "tie":
            outcome = Outcome.TIE
            if g1 != g2:
                metadata["inconsistent"] = True
        else:
            winner = model_1 if g1 == "model_1" else model_2
            outcome = Outcome.A if _position(comparison, winner) == 0 else Outcome.B
        judgment = JudgmentRow(
            source=Source.IMPORT,
            judge_kind=JudgeKind.AI,
            judge=judge,
            created_at=unix_time(data.get("tstamp"), now),
            outcome=outcome,
            rationale=texts["g1_judgment"],
            metadata=metadata,
        )
        comparison.created_at = judgment.created_at
        return Row(comparison, judgment, dropped={"g1_user_prompt": DROPPED_PROMPT, "g2_user_prompt": DROPPED_PROMPT})
