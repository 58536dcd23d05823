"""The export admin: staff export anything from "Add export job", and export chosen projects from the
project list. The project action starts an export job, which is this app's, so the Project admin is
annotation's with that action added (annotation knows nothing of exports)."""

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from agora_datasets.exports.jobs import ExportError, export_job_create
from agora_datasets.forms import ExportForm
from agora_datasets.models import ExportJob
from annotation import admin as annotation_admin
from annotation.admin_checks import CheckedModelAdmin
from annotation.models import Project


@admin.register(ExportJob)
class ExportJobAdmin(CheckedModelAdmin):
    """Staff export anything: "Add export job" opens the export form; the list shows progress and files."""

    list_display = ["id", "export_format", "project", "state", "progress", "rows", "created_by", "created_at", "files"]
    list_filter = ["state", "project"]
    readonly_fields = [f.name for f in ExportJob._meta.fields] + ["files"]

    @admin.display(description="format")
    def export_format(self, job):
        return f"{job.parameters.get('format')} ({job.parameters.get('file_format', 'jsonl')})"

    @admin.display(description="files")
    def files(self, job):
        if job.state != "done" or not job.manifest:
            return "—"
        names = [f["path"] for f in job.manifest["files"]] + ["manifest.json"]
        return format_html_join(
            " ", '<a href="{}">{}</a>', ((reverse("annotation:export_download", args=[job.pk, n]), n) for n in names)
        ) or format_html("—")

    def has_change_permission(self, request, obj=None):
        return False  # a job is a record of what ran

    def add_view(self, request, form_url="", extra_context=None):
        form = ExportForm(request.POST or None, staff=True)
        if request.method == "POST" and form.is_valid():
            try:
                job = export_job_create(user=request.user, params=form.params())
                messages.success(request, f"Export {job.pk} is queued; its files appear here when it is done.")
                return redirect("admin:datasets_exportjob_changelist")
            except ExportError as error:
                form.add_error(None, str(error))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Export a dataset",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/datasets/exportjob/new.html", context)


@admin.action(description="Export the selected projects' judgments (TRL preference, JSONL)")
def export_projects(modeladmin, request, queryset):
    for project in queryset:
        export_job_create(
            user=request.user, params={"format": "trl-preference", "file_format": "jsonl", "project": project.slug}
        )
    modeladmin.message_user(request, f"{queryset.count()} export(s) queued; see Export jobs.")


admin.site.unregister(Project)


@admin.register(Project)
class ProjectAdmin(annotation_admin.ProjectAdmin):
    """annotation's Project admin, with the export action."""

    actions = [*annotation_admin.ProjectAdmin.actions, export_projects]
