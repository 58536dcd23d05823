"""LLMFAO (github.com/dustalov/llmfao): comparisons CSV + pair texts + prompts + models.

PATH is a comparisons CSV (``crowd-comparisons.csv``, ``gpt4-comparisons.csv``…);
``pairs-crowd.jsonl`` (prompt and answer texts), ``models.jsonl`` and
``results.jsonl`` (generation times) are read from the same folder. Each pair becomes one comparison (model_x is A and
was shown on the left), each CSV row one judgment. Crowd rows name their worker;
the GPT files are one AI judge each, named after the file.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from annotation.imports.records import Record, RowError, read_csv_records
from annotation.imports.rows import CandidateRow, ComparisonRow, JudgmentRow, Row
from annotation.models import JudgeKind, Outcome, Source

WINNERS = {"left": Outcome.A, "right": Outcome.B, "tie": Outcome.TIE}
AI_JUDGES = {"gpt3": "gpt-3.5-turbo", "gpt4": "gpt-4"}


def _jsonl(path: Path) -> list[dict]:
    if not path.exists():
        raise FileNotFoundError(f"{path.name} is missing beside the comparisons file (looked in {path.parent})")
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


class LlmfaoFormat:
    name = "llmfao"

    def __init__(self, path: Path):
        self.path = path
        folder = path.parent
        self.pairs = {p["id"]: p for p in _jsonl(folder / "pairs-crowd.jsonl")}
        self.models = {m["id"]: m for m in _jsonl(folder / "models.jsonl")}
        self.results = {(r["model"], r["prompt"]): r for r in _jsonl(folder / "results.jsonl")}
        self.ai_judge = next((name for prefix, name in AI_JUDGES.items() if path.name.startswith(prefix)), None)

    def records(self):
        return read_csv_records(self.path)

    def parse(self, record: Record, now: datetime) -> Row:
        data = record.data
        needed = ["id", "prompt", "model_x", "model_y", "winner"] + ([] if self.ai_judge else ["worker"])
        missing = [name for name in needed if not data.get(name)]
        if missing:
            raise RowError(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        try:
            pair_id, prompt_id = int(data["id"]), int(data["prompt"])
            model_x, model_y = int(data["model_x"]), int(data["model_y"])
        except ValueError:
            raise RowError("id, prompt, model_x and model_y must be whole numbers") from None
        pair = self.pairs.get(pair_id)
        if pair is None:
            raise RowError(f"pair {pair_id} is not in pairs-crowd.jsonl")
        if (pair["prompt"], pair["model_x"], pair["model_y"]) != (prompt_id, model_x, model_y):
            raise RowError(f"pair {pair_id} is for other models or another prompt in pairs-crowd.jsonl")
        if data["winner"] not in WINNERS:
            raise RowError(f"winner must be one of {', '.join(WINNERS)}, got {data['winner']!r}")
        unknown = [m for m in (model_x, model_y) if m not in self.models]
        if unknown:
            raise RowError(f"model {unknown[0]} is not in models.jsonl")

        comparison = ComparisonRow(
            key=f"llmfao:{pair_id}",
            context=[{"role": "user", "content": pair["text"]}],
            source=Source.IMPORT,
            created_at=now,
            category=pair.get("type") or "",
            language="en",
            metadata={"dataset": "llmfao", "pair": pair_id, "prompt": prompt_id, "slug": pair.get("slug")},
            candidates=[
                self._candidate(0, model_x, prompt_id, pair["result_x"]),
                self._candidate(1, model_y, prompt_id, pair["result_y"]),
            ],
        )
        if self.ai_judge:
            kind, judge = JudgeKind.AI, self.ai_judge
        else:
            kind, judge = JudgeKind.EXTERNAL, f"llmfao:{data['worker']}"
        judgment = JudgmentRow(
            source=Source.IMPORT,
            judge_kind=kind,
            judge=judge,
            created_at=now,
            display_order=[0, 1],  # model_x was shown on the left
            outcome=WINNERS[data["winner"]],
        )
        return Row(comparison, judgment)

    def _candidate(self, position: int, model_id: int, prompt_id: int, text: str) -> CandidateRow:
        model = self.models[model_id]
        result = self.results.get((model_id, prompt_id), {})
        duration = result.get("duration")
        return CandidateRow(
            position=position,
            model=model["name"],
            text=text,
            latency_ms=int(duration) if duration is not None else None,
            metadata={
                "llmfao_model": model_id,
                "api_id": model.get("api_id"),
                "org": model.get("org"),
                "rate": result.get("rate"),
            },
        )
