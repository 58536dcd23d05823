"""/api/v1/judgments: read a selection (the export's filters) by page or as a streamed NDJSON response, and
write judgments made elsewhere (an LLM judge run outside, another tool's annotations).

Rows are the raw export's (agora_datasets/exports/raw.py): the comparison, its candidates and the judgment,
which is also what a write takes, so what one Agora gives another takes back. A project's owners read its
judgments, as on its export page; staff read any selection and write judgments, as the import command does.
"""

from __future__ import annotations

from typing import Literal

import orjson
from ninja import Field, Query, Router, Schema

from agora_datasets.exports.jobs import ExportError, moment
from agora_datasets.exports.privacy import scrub_raw
from agora_datasets.exports.raw import judgment_to_raw, raw_json_chunks, raw_queryset
from agora_datasets.exports.selection import ExportFilters, SelectionError, filtered_judgments, groups
from agora_datasets.imports.agora import AgoraFormat
from agora_datasets.imports.service import ImportRejected, judgments_write
from annotation.imports.records import read_json_handle
from annotation.models import Source
from annotation.streams import streamed
from api.auth import Caller, caller
from api.bodies import spooled_body
from api.errors import PROBLEMS, ApiError
from api.pages import Page, PageQuery, page_of

router = Router(tags=["judgments"])
NDJSON = "application/x-ndjson"


class Selection(Schema):
    project: str | None = Field(None, description="a project's slug (required unless you are staff)")
    source: list[Literal[tuple(Source.values)]] = Field([], description="arena, queue, ai, import")  # type: ignore[valid-type]
    since: str | None = Field(None, description="created at or after (ISO date or date-time, UTC)")
    until: str | None = Field(None, description="created before")
    model: list[str] = Field([], description="either candidate is one of these models")
    category: list[str] = []
    language: list[str] = []
    gold: Literal["include", "exclude"] = "include"
    min_agreement: float | None = Field(None, gt=0, le=1, description="NDJSON only: keep agreeing comparisons")


class JudgmentOut(Schema):
    id: int
    agora_raw: int
    comparison: dict
    candidates: list[dict]
    judgment: dict


class WriteReport(Schema):
    records: int
    comparisons_added: int
    judgments_added: int
    judgments_present: int


def _filters(who: Caller, selection: Selection) -> ExportFilters:
    who.selection(selection.project, "reading every judgment")
    try:
        filters = ExportFilters(
            project=selection.project,
            sources=tuple(selection.source),
            since=moment(selection.since, "since"),
            until=moment(selection.until, "until"),
            models=tuple(selection.model),
            categories=tuple(selection.category),
            languages=tuple(selection.language),
            exclude_gold=selection.gold == "exclude",
            min_agreement=selection.min_agreement,
        )
        filters.check()
    except (ExportError, SelectionError) as error:
        raise ApiError(422, str(error)) from None
    return filters


def _raw(judgment) -> dict:
    """The raw export's row, its metadata scrubbed of keys that could name a person (as every export's)."""
    return scrub_raw(judgment_to_raw(judgment)) | {"id": judgment.pk}


@router.get("", response={200: Page[JudgmentOut], **PROBLEMS}, summary="A page of judgments")
def judgments_list(request, selection: Query[Selection], page: Query[PageQuery]):
    filters = _filters(caller(request), selection)
    if filters.min_agreement is not None:
        raise ApiError(
            422,
            "min_agreement keeps whole comparisons, so it works on /judgments/stream, which reads a comparison's "
            "judgments together.",
            [("min_agreement", "use /judgments/stream")],
        )
    return page_of(raw_queryset(filtered_judgments(filters)), page, _raw)


@router.get(
    "/stream",
    response={200: None, **PROBLEMS},
    summary="Every selected judgment, streamed as JSON lines",
    openapi_extra={
        "responses": {200: {"description": "one JudgmentOut per line", "content": {"application/x-ndjson": {}}}}
    },
)
def judgments_ndjson(request, selection: Query[Selection]):
    filters = _filters(caller(request), selection)
    if filters.min_agreement is None:  # row filters only: PostgreSQL writes the lines
        return streamed(request, lambda: raw_json_chunks(filtered_judgments(filters)), NDJSON)

    def grouped():  # agreement is a comparison's: read its judgments together
        for group in groups(filters):
            yield b"".join(orjson.dumps(_raw(judgment)) + b"\n" for judgment in group.judgments)

    return streamed(request, grouped, NDJSON)


class _BodyRecords(AgoraFormat):
    """The raw format, read from a request body instead of a file."""

    def __init__(self, handle):
        super().__init__(path=None)
        self.handle = handle

    def records(self):
        return read_json_handle(self.handle)


@router.post(
    "",
    response={200: WriteReport, **PROBLEMS},
    summary="Write judgments made elsewhere (staff): raw rows, a JSON array or JSON lines",
    description="Each row is keyed by its comparison's key and its judge (and source): a row already here is "
    "counted in judgments_present and changes nothing, so a retried write adds nothing. One bad row rejects all.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                "application/x-ndjson": {"schema": {"type": "array", "items": {"type": "object"}}},
            },
        }
    },
)
def judgments_create(request):
    caller(request).require_staff()
    with spooled_body(request) as body:
        reader = _BodyRecords(body)
        try:
            report = judgments_write(reader=reader)
        except ImportRejected as rejected:
            errors = [(f"line {line}" if line else "", reason) for line, reason in rejected.report.errors]
            raise ApiError(422, str(rejected), errors) from None
    if report.records == 0:
        raise ApiError(422, "The body holds no judgments.")
    return {
        "records": report.records,
        "comparisons_added": report.comparisons_added,
        "judgments_added": report.judgments_added,
        "judgments_present": report.judgments_present,
    }
