from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.answers import AnswerError
from annotation.dashboard import project_dashboard
from annotation.items import ItemsError, items_from_battles
from annotation.models import Assignment, AssignmentState, Judgment, Membership, Project, Role
from annotation.project_forms import ItemsFromBattlesForm, ItemsUploadForm, MemberForm, ProjectSettingsForm
from annotation.projects import ProjectError, items_upload, member_remove, member_set, project_settings_update
from annotation.queue import (
    QueueEmpty,
    QueueError,
    TaskNotFound,
    assignment_claim,
    assignment_skip,
    assignment_submit,
    project_progress,
)
from annotation.sql import PROJECT_FOR_SQL
from annotation.storable import int_refusal
from annotation.tasks_view import task_context

# Raw SQL (annotation/sql.py), not a queryset: this runs on every annotator request, and building and
# compiling the equivalent queryset (a filter and an Exists subquery) cost more than running it.


def project_for(request, slug: str, roles: tuple[str, ...] = (Role.OWNER, Role.REVIEWER, Role.ANNOTATOR)) -> Project:
    """The project if the user may work in it with one of ``roles`` (staff may do everything); else 404.
    One query: the membership comes along with the project."""
    found = list(Project.objects.raw(PROJECT_FOR_SQL, [request.user.pk, list(roles), slug]))
    project = found[0] if found else None
    if project is None or not (project.member or request.user.is_staff):
        raise Http404("No such project.")  # not "forbidden": whether it exists is not theirs to know
    return project


@login_required
def index(request):
    memberships = Membership.objects.filter(user=request.user).select_related("project").order_by("project__name")
    projects = [
        {"project": m.project, "role": m.role, "progress": project_progress(project=m.project, annotator=request.user)}
        for m in memberships
    ]
    mine = Judgment.objects.filter(user=request.user).count()
    return render(request, "annotation/index.html", {"projects": projects, "my_judgments": mine})


def _render_task(request, project: Project, *, error: str = "", status: int = 200, assignment=None):
    empty = None
    if assignment is None:
        try:
            assignment = assignment_claim(project=project, annotator=request.user)
        except QueueEmpty as reason:
            empty = str(reason)
    context = {
        "project": project,
        "empty": empty,
        "error": error,
        "progress": project_progress(project=project, annotator=request.user),
    }
    if assignment is not None:
        context.update(task_context(project, assignment, request.user))
    template = "annotation/task.html#task" if request.htmx else "annotation/task.html"
    return render(request, template, context, status=status)


@login_required
def task(request, slug: str):
    return _render_task(request, project_for(request, slug))


def _own_assignment(request, project: Project, assignment_id: int) -> Assignment:
    try:
        return Assignment.objects.select_related("item__comparison").get(
            pk=assignment_id, annotator=request.user, item__project=project
        )
    except Assignment.DoesNotExist:
        raise Http404("No such task.") from None


@login_required
@require_POST
def submit(request, slug: str, assignment_id: int):
    project = project_for(request, slug)
    # The page's own clock, so a refusal here is a tampered or broken page: say so, keep the task.
    spent, refusal = int_refusal(request.POST.get("time_spent_ms"), what="time_spent_ms")
    try:
        if refusal:
            raise AnswerError(refusal)
        # The submit checks that the task is this annotator's, in this project: no lookup before it.
        assignment_submit(
            assignment_id=assignment_id, annotator=request.user, data=request.POST, time_spent_ms=spent, project=project
        )
    except TaskNotFound:
        raise Http404("No such task.") from None
    except AnswerError as error:
        # The same task again, with what to fix.
        assignment = _own_assignment(request, project, assignment_id)
        return _render_task(request, project, error=str(error), status=400, assignment=assignment)
    except QueueError as error:
        return _render_task(request, project, error=str(error), status=error.status)
    if not request.htmx:
        return redirect("annotation:task", slug=slug)
    return _render_task(request, project)


@login_required
@require_POST
def skip(request, slug: str, assignment_id: int):
    project = project_for(request, slug)
    assignment = _own_assignment(request, project, assignment_id)
    try:
        assignment_skip(assignment_id=assignment.pk, annotator=request.user, reason=request.POST.get("reason", ""))
    except QueueError as error:
        live = assignment if assignment.state == AssignmentState.LEASED else None
        return _render_task(request, project, error=str(error), status=400, assignment=live)
    if not request.htmx:
        return redirect("annotation:task", slug=slug)
    return _render_task(request, project)


@login_required
def dashboard(request, slug: str):
    """Owners (and staff) only: agreement, annotator quality and flags name people."""
    project = project_for(request, slug, roles=(Role.OWNER,))
    return render(request, "annotation/dashboard.html", {"project": project, "d": project_dashboard(project)})


SETTINGS_ACTIONS = ("save", "member", "remove", "upload", "battles")


@login_required
def project_settings(request, slug: str):
    """Owners (and staff): the project's settings and task configuration, its items, and who works in it."""
    project = project_for(request, slug, roles=(Role.OWNER,))
    action = request.POST.get("action") if request.method == "POST" else None
    form = ProjectSettingsForm(request.POST if action == "save" else None, instance=project)
    member_form = MemberForm(request.POST if action == "member" else None)
    upload_form = ItemsUploadForm(
        request.POST if action == "upload" else None, request.FILES if action == "upload" else None
    )
    battles_form = ItemsFromBattlesForm(request.POST if action == "battles" else None)
    error, status = "", 200
    try:
        if action == "save" and form.is_valid():
            project_settings_update(project=project, changes=form.changes())
            return redirect("annotation:settings", slug=slug)
        if action == "member" and member_form.is_valid():
            member_set(project=project, **member_form.cleaned_data)
            return redirect("annotation:settings", slug=slug)
        if action == "remove":
            membership_id, refusal = int_refusal(request.POST.get("membership"), what="The member to remove")
            if refusal or membership_id is None:
                raise ProjectError(refusal or "Choose a member to remove.")
            member_remove(project=project, membership_id=membership_id)
            return redirect("annotation:settings", slug=slug)
        if action == "upload" and upload_form.is_valid():
            report = items_upload(project=project, upload=upload_form.cleaned_data["file"])
            messages.success(
                request,
                f"{report.read} record(s) read: {report.added} item(s) added, {report.already} already in the project.",
            )
            return redirect("annotation:settings", slug=slug)
        if action == "battles" and battles_form.is_valid():
            added = items_from_battles(project=project, **battles_form.cleaned_data)
            messages.success(request, f"{added} arena battle(s) added as items.")
            return redirect("annotation:settings", slug=slug)
    except (ProjectError, ItemsError, ValidationError) as problem:
        error = "; ".join(problem.messages) if isinstance(problem, ValidationError) else str(problem)
    if action is not None:
        status = 400  # an invalid form, or a change the project refused: nothing was saved
        if action not in SETTINGS_ACTIONS:
            error = "This request names no action of this page. Reload the page and use its buttons."
    members = Membership.objects.filter(project=project).select_related("user").order_by("role", "user__username")
    context = {
        "project": Project.objects.get(pk=project.pk),
        "form": form,
        "member_form": member_form,
        "upload_form": upload_form,
        "battles_form": battles_form,
        "members": members,
        "error": error,
        "items": project.items.count(),
        "gold_items": project.items.filter(is_gold=True).count(),
    }
    return render(request, "annotation/settings.html", context, status=status)
