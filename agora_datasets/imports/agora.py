"""Agora's own raw export (agora_datasets/exports/raw.py), read back."""

from __future__ import annotations

from datetime import datetime

from agora_datasets.exports.raw import FORMAT_VERSION
from agora_datasets.imports.files import FileFormat
from annotation.imports.records import Record, RowError
from annotation.imports.rows import CandidateRow, ComparisonRow, JudgmentRow, Row, ScoreRow, field_names


def _fields(data, name: str, cls, nested: tuple[str, ...] = ()) -> dict:
    """The plain fields of one part of a raw line; ``nested`` ones are read by the caller."""
    if not isinstance(data, dict):
        raise RowError(f"{name} must be an object")
    allowed = field_names(cls, exclude=nested)
    unknown = set(data) - set(allowed) - set(nested)
    if unknown:
        raise RowError(f"{name} has unknown field{'s' if len(unknown) > 1 else ''} {', '.join(sorted(unknown))}")
    values = {k: v for k, v in data.items() if k in allowed}
    if "created_at" in values:
        try:
            values["created_at"] = datetime.fromisoformat(values["created_at"])
        except (TypeError, ValueError):
            raise RowError(f"{name}.created_at must be an ISO 8601 time") from None
    return values


class AgoraFormat(FileFormat):
    name = "agora"

    def parse(self, record: Record, now: datetime) -> Row:
        data = record.data
        if data.get("agora_raw") != FORMAT_VERSION:
            raise RowError(f"not an Agora raw export line (agora_raw must be {FORMAT_VERSION})")
        missing = [k for k in ("comparison", "candidates", "judgment") if k not in data]
        if missing:
            raise RowError(f"missing {', '.join(missing)}")
        if not isinstance(data["candidates"], list):
            raise RowError("candidates must be a list")
        try:
            candidates = [CandidateRow(**_fields(c, "candidate", CandidateRow)) for c in data["candidates"]]
            comparison = ComparisonRow(
                candidates=candidates, **_fields(data["comparison"], "comparison", ComparisonRow, ("candidates",))
            )
            judgment_data = data["judgment"]
            scores = judgment_data.get("scores", []) if isinstance(judgment_data, dict) else []
            if not isinstance(scores, list):
                raise RowError("judgment.scores must be a list")
            judgment = JudgmentRow(
                scores=[ScoreRow(**_fields(s, "score", ScoreRow)) for s in scores],
                **_fields(judgment_data, "judgment", JudgmentRow, ("scores",)),
            )
        except TypeError as error:  # a required field is absent
            raise RowError(f"incomplete record: {error}") from None
        return Row(comparison, judgment)
