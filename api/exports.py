"""/api/v1/exports: start an export job with any format and filters ``export_dataset`` takes, follow it, and
download its files and manifest. A project's owners export its data; staff export any selection."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import FileResponse
from ninja import Field, Router, Schema, Status

from agora_datasets.exports.formats import FORMAT_NAMES, TIES
from agora_datasets.exports.jobs import ExportError, export_job_create, job_file
from agora_datasets.exports.selection import AGGREGATIONS
from agora_datasets.exports.writers import FILE_FORMATS
from agora_datasets.models import ExportJob
from annotation.models import Membership, Role
from api.auth import Caller, caller
from api.bodies import Body
from api.errors import PROBLEMS, ApiError

router = Router(tags=["exports"])


class ExportIn(Body):
    """The command's options (``manage.py export_dataset --help``), by the same names."""

    format: Literal[tuple(FORMAT_NAMES)]  # type: ignore[valid-type]
    file_format: Literal[tuple(FILE_FORMATS)] = Field("jsonl", description="as the format allows")  # type: ignore[valid-type]
    project: str | None = None
    source: list[str] = []
    since: str | None = None
    until: str | None = None
    model: list[str] = []
    category: list[str] = []
    language: list[str] = []
    gold: Literal["include", "exclude"] | None = Field(None, description="the format's default when absent")
    min_gold_accuracy: float | None = Field(None, ge=0, le=1)
    min_seconds: float | None = Field(None, ge=0, le=1e9)
    min_agreement: float | None = Field(None, gt=0, le=1)
    aggregate: Literal[tuple(AGGREGATIONS)] | None = None  # type: ignore[valid-type]
    dedup_prompts: bool = False
    test_share: float = Field(0.0, ge=0, lt=1)
    ties: Literal[tuple(TIES)] | None = None  # type: ignore[valid-type]
    margin: bool = False
    rationales: bool = False
    release: bool = False


class ExportOut(Schema):
    id: int
    state: str
    progress: float
    parameters: dict
    rows: int | None
    error: str
    duration_ms: int | None
    created_at: datetime
    finished_at: datetime | None
    files: list[str] = Field(description="names to download, the manifest first; empty until it is done")
    manifest: dict | None


def _out(job: ExportJob) -> dict:
    files = ["manifest.json", *(f["path"] for f in job.manifest["files"])] if job.manifest else []
    return {name: getattr(job, name) for name in ExportOut.model_fields if name != "files"} | {"files": files}


def _visible(who: Caller):
    jobs = ExportJob.objects.select_related("project")
    if who.is_staff:
        return jobs
    owned = Membership.objects.filter(user=who.user, role=Role.OWNER).values("project_id")
    return jobs.filter(project_id__in=owned)


def _job(who: Caller, job_id: int) -> ExportJob:
    job = _visible(who).filter(pk=job_id).first()
    if job is None:
        raise ApiError(404, f"No export {job_id}.")
    if job.project is not None and not who.token_allows(job.project):
        raise ApiError(403, f"This token is not for the project {job.project.slug!r}.")
    if job.project is None:
        who.require_unlimited("an export of the whole site")
    return job


@router.post("", response={202: ExportOut, **PROBLEMS}, summary="Start an export job")
def export_create(request, body: ExportIn):
    who = caller(request)
    who.selection(body.project, "an export of the whole site")
    try:
        job = export_job_create(user=who.user, params=body.model_dump())
    except ExportError as error:
        raise ApiError(422, str(error)) from None
    return Status(202, _out(job))


@router.get("", response={200: list[ExportOut], **PROBLEMS}, summary="Your latest export jobs (100)")
def exports_list(request):
    who = caller(request)
    jobs = _visible(who).order_by("-id")[:100]
    return [_out(j) for j in jobs if (who.token_allows(j.project) if j.project else not who.limited)]


@router.get("/{job_id}", response={200: ExportOut, **PROBLEMS}, summary="An export job and its progress")
def export_read(request, job_id: int):
    return _out(_job(caller(request), job_id))


@router.get(
    "/{job_id}/files/{name}",
    response={200: None, **PROBLEMS},
    summary="A finished export's file, or its manifest.json",
    openapi_extra={"responses": {200: {"description": "the file", "content": {"application/octet-stream": {}}}}},
)
def export_file(request, job_id: int, name: str):
    job = _job(caller(request), job_id)
    path = job_file(job, name)
    if path is None:
        raise ApiError(404, f"Export {job_id} has no file {name!r} (yet: it is {job.state}).")
    return FileResponse(open(path, "rb"), as_attachment=True, filename=f"export-{job.pk}-{name}")
