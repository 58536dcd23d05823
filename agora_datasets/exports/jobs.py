"""Exports as jobs: one set of checks for every way to ask for an export, and background runs with progress.

``export_spec`` turns request parameters (the command's options, a staff form, a project owner's form)
into what ``export_dataset`` takes, refusing what makes no sense with a message a person understands.
``export_job_create`` queues a job on commit; ``export_job_run`` (the Celery task's body) writes the
files under ``AGORA_EXPORT_DIR/<job id>/`` with the manifest and records progress as it goes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as day_start
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from agora_datasets.exports.dataset import export_dataset, score_attributes
from agora_datasets.exports.formats import TIES, Format, Options, get_format
from agora_datasets.exports.privacy import Privacy
from agora_datasets.exports.selection import AGGREGATIONS, ExportFilters, SelectionError, judgment_queryset
from agora_datasets.exports.writers import FILE_FORMATS
from agora_datasets.models import ExportJob, ExportState
from annotation.models import Project, Source


class ExportError(ValueError):
    """The export cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class ExportSpec:
    fmt: Format
    file_format: str
    filters: ExportFilters
    options: Options
    chunk_size: int = 2000


def moment(value, option: str) -> datetime | None:
    """An ISO date (midnight UTC) or date-time (UTC when it names no zone)."""
    if not value:
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = parse_datetime(str(value))
            if parsed is None and (day := parse_date(str(value))) is not None:
                parsed = datetime.combine(day, day_start())
        except ValueError:
            parsed = None
    if parsed is None:
        raise ExportError(f"{option} {value!r}: give a date (2025-01-31) or a date-time (2025-01-31T12:00)")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def _list(value) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(value) if isinstance(value, (list, tuple)) else (str(value),)


def export_spec(params: dict) -> ExportSpec:
    """``params`` use the command's option names (format, file_format, project, source, since, …)."""
    try:
        fmt = get_format(params.get("format") or "")
    except (KeyError, ValueError):
        raise ExportError(f"unknown format {params.get('format')!r}") from None
    file_format = params.get("file_format") or "jsonl"
    if file_format not in FILE_FORMATS or file_format not in fmt.file_formats:
        raise ExportError(f"{fmt.name} is written as {', '.join(fmt.file_formats)} only")
    aggregate = params.get("aggregate") or fmt.aggregations[0]
    if aggregate not in AGGREGATIONS or aggregate not in fmt.aggregations:
        raise ExportError(f"{fmt.name} takes aggregate {' or '.join(fmt.aggregations)}")
    if params.get("rationales") and not fmt.rationales:
        raise ExportError(f"rationales do not apply to {fmt.name}")
    project = params.get("project") or None
    if project and not Project.objects.filter(slug=project).exists():
        raise ExportError(f"no project {project!r}")
    sources = _list(params.get("source"))
    if unknown := [s for s in sources if s not in Source.values]:
        raise ExportError(f"unknown source {', '.join(unknown)} (choose {', '.join(Source.values)})")
    ties = params.get("ties") or "drop"
    if ties not in TIES:
        raise ExportError(f"ties must be {' or '.join(TIES)}")
    salt = params.get("salt")
    if salt is not None and not salt:
        raise ExportError("the salt must not be empty")
    chunk_size = int(params.get("chunk_size") or 2000)
    min_gold_answers = int(params.get("min_gold_answers") or 3)
    if chunk_size < 1 or min_gold_answers < 1:
        raise ExportError("the chunk size and the minimum gold answers must be 1 or more")
    gold = params.get("gold") or ("include" if fmt.name == "raw" else "exclude")
    filters = ExportFilters(
        project=project,
        sources=sources,
        since=moment(params.get("since"), "since"),
        until=moment(params.get("until"), "until"),
        models=_list(params.get("model")),
        categories=_list(params.get("category")),
        languages=_list(params.get("language")),
        exclude_gold=gold == "exclude",
        min_gold_accuracy=params.get("min_gold_accuracy"),
        min_gold_answers=min_gold_answers,
        min_seconds=params.get("min_seconds"),
        min_agreement=params.get("min_agreement"),
        aggregate=aggregate,
        dedup_prompts=bool(params.get("dedup_prompts")),
        test_share=float(params.get("test_share") or 0.0),
    )
    try:
        filters.check()
    except SelectionError as error:
        raise ExportError(str(error)) from None
    options = Options(
        privacy=Privacy.create(salt=salt, release=bool(params.get("release"))),
        aggregate=aggregate,
        ties=ties,
        margin=bool(params.get("margin")),
        rationales=bool(params.get("rationales")),
        attributes=score_attributes(filters) if fmt.name == "ratings" else (),
    )
    return ExportSpec(fmt=fmt, file_format=file_format, filters=filters, options=options, chunk_size=chunk_size)


# The parameters a job keeps (never the salt: a job's pseudonyms are random per export).
JOB_PARAMS = (
    "format",
    "file_format",
    "project",
    "source",
    "since",
    "until",
    "model",
    "category",
    "language",
    "gold",
    "min_gold_accuracy",
    "min_seconds",
    "min_agreement",
    "aggregate",
    "dedup_prompts",
    "test_share",
    "ties",
    "margin",
    "rationales",
    "release",
)


def export_job_create(*, user, params: dict) -> ExportJob:
    """Check the parameters now (so a bad request gets its message at once), then queue the job."""
    kept = {k: params[k] for k in JOB_PARAMS if params.get(k) not in (None, "", [], ())}
    export_spec(kept)
    project = Project.objects.filter(slug=kept["project"]).first() if kept.get("project") else None
    job = ExportJob.objects.create(created_by=user, project=project, parameters=kept)
    from agora_datasets.tasks import run_export  # here: the task module imports this one

    transaction.on_commit(lambda: run_export.delay(job.pk))
    return job


def export_job_run(job_id: int) -> ExportJob:
    if not ExportJob.objects.filter(pk=job_id, state=ExportState.QUEUED).update(
        state=ExportState.RUNNING, started_at=timezone.now()
    ):
        return ExportJob.objects.get(pk=job_id)  # already taken (a redelivered task)
    job = ExportJob.objects.get(pk=job_id)
    started = time.perf_counter()
    try:
        spec = export_spec(job.parameters)
        total = max(1, judgment_queryset(spec.filters).order_by().values("comparison_id").distinct().count())
        folder = Path(settings.AGORA_EXPORT_DIR) / str(job.pk)
        folder.mkdir(parents=True, exist_ok=True)
        seen, last = [0], [0.0]

        def progress(groups: int) -> None:
            seen[0] += groups
            now = time.monotonic()
            if now - last[0] >= 1.0:  # at most a write a second
                last[0] = now
                _progress_write(job.pk, min(0.99, seen[0] / total))

        manifest = export_dataset(
            spec.fmt,
            spec.filters,
            spec.options,
            folder,
            file_format=spec.file_format,
            chunk_size=spec.chunk_size,
            progress=progress,
        )
    except (ExportError, FileNotFoundError) as error:
        return _finish(job, started, state=ExportState.FAILED, error=str(error))
    except Exception as error:
        _finish(job, started, state=ExportState.FAILED, error=f"the export failed: {error!r}")
        raise
    return _finish(job, started, state=ExportState.DONE, manifest=manifest)


def _progress_write(job_id: int, value: float) -> None:
    """Record progress over a connection of its own: the export's rows are still streaming over this
    thread's connection, which cannot run another statement until the stream ends."""

    def write() -> None:
        try:
            ExportJob.objects.filter(pk=job_id).update(progress=value)
        finally:
            connection.close()

    writer = threading.Thread(target=write, name="export-progress")
    writer.start()
    writer.join()


def _finish(job: ExportJob, started: float, *, state: str, error: str = "", manifest: dict | None = None) -> ExportJob:
    job.state = state
    job.error = error
    job.manifest = manifest
    job.progress = 1.0 if state == ExportState.DONE else job.progress
    job.rows = sum(f["rows"] for f in manifest["files"]) if manifest else None
    job.duration_ms = int((time.perf_counter() - started) * 1000)
    job.finished_at = timezone.now()
    job.save()
    return job


def job_file(job: ExportJob, name: str) -> Path | None:
    """A file of a finished job by its name in the manifest (or the manifest itself); None otherwise."""
    if job.state != ExportState.DONE or not job.manifest:
        return None
    names = {f["path"] for f in job.manifest["files"]} | {"manifest.json"}
    if name not in names:
        return None
    path = Path(settings.AGORA_EXPORT_DIR) / str(job.pk) / name
    return path if path.is_file() else None
