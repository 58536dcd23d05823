"""The export pages of a project: its judgments as raw JSONL now, background exports in any format, and
a finished export's files. Their URLs keep the names they had in the annotation app (annotation:export,
annotation:exports, annotation:export_download): see config/urls.py."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render

from agora_datasets.exports.jobs import ExportError, export_job_create, job_file
from agora_datasets.exports.raw import raw_lines
from agora_datasets.exports.selection import project_filter
from agora_datasets.forms import ExportForm
from agora_datasets.models import ExportJob
from annotation.models import Judgment, Membership, Project, Role
from annotation.streams import streamed
from annotation.views import project_for


@login_required
def export(request, slug: str):
    """The project's judgments as raw JSONL (the format import_judgments reads back); owners and staff only."""
    project = project_for(request, slug, roles=(Role.OWNER,))
    judgments = Judgment.objects.filter(project_filter(project.slug))

    def chunks():  # a thousand lines a chunk: under ASGI each chunk is one hop to the request's thread
        batch = []
        for line in raw_lines(judgments):
            batch.append(line)
            if len(batch) == 1000:
                yield "".join(batch).encode()
                batch = []
        if batch:
            yield "".join(batch).encode()

    response = streamed(request, chunks, "application/x-ndjson")
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-judgments.jsonl"'
    return response


def _exports_context(request, project: Project, form) -> dict:
    jobs = ExportJob.objects.filter(project=project).order_by("-id")[:20]
    return {
        "project": project,
        "form": form,
        "jobs": jobs,
        "running": any(j.state in ("queued", "running") for j in jobs),
    }


@login_required
def exports(request, slug: str):
    """A project's owners (and staff) export its data in any format, in the background."""
    project = project_for(request, slug, roles=(Role.OWNER,))
    form = ExportForm(request.POST or None, project=project)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                export_job_create(user=request.user, params=form.params())
                return redirect("annotation:exports", slug=slug)
            except ExportError as error:
                form.add_error(None, str(error))
        status = 400
    template = "datasets/exports.html#jobs" if request.htmx else "datasets/exports.html"
    return render(request, template, _exports_context(request, project, form), status=status)


@login_required
def export_download(request, job_id: int, name: str):
    """A finished job's file: for staff, or for the owners of the job's project."""
    job = ExportJob.objects.filter(pk=job_id).select_related("project").first()
    allowed = job is not None and (
        request.user.is_staff
        or (
            job.project is not None
            and Membership.objects.filter(project=job.project, user=request.user, role=Role.OWNER).exists()
        )
    )
    path = job_file(job, name) if allowed else None
    if path is None:
        raise Http404("No such export file.")
    return FileResponse(open(path, "rb"), as_attachment=True, filename=f"export-{job.pk}-{name}")
