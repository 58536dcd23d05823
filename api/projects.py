"""/api/v1/projects: list, read, create and update projects; their members and progress.

Members see a project; owners (and staff) change it, as on its settings page, through the same form, so
the API refuses what the page refuses with the same messages."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.contrib.auth import get_user_model
from ninja import Field, Router, Schema, Status

from annotation.dashboard import done_judgments, progress
from annotation.models import Membership, Project, Role, TaskType
from annotation.project_forms import ProjectSettingsForm
from annotation.projects import ProjectError, member_remove, member_set, project_create, project_settings_update
from api.auth import caller
from api.bodies import Body
from api.errors import PROBLEMS, ApiError

router = Router(tags=["projects"])

SLUG = r"^[-a-zA-Z0-9_]+$"


class ProjectOut(Schema):
    slug: str
    name: str
    task_type: str
    guidelines: str
    rationale: str
    overlap: int
    lease_seconds: int
    gold_ratio: float
    blind: bool
    active: bool
    config: dict
    created_at: datetime
    role: str | None = Field(None, description="the caller's role in the project; null for staff who are not members")


class ProjectSettings(Body):
    """Every field optional: a PATCH changes only what it names."""

    name: str | None = Field(None, min_length=1, max_length=200)
    guidelines: str | None = Field(None, max_length=100_000)
    rationale: Literal["off", "optional", "required"] | None = None
    overlap: int | None = Field(None, ge=1, le=50)
    lease_seconds: int | None = Field(None, ge=10, le=2_147_483_647)
    gold_ratio: float | None = Field(None, ge=0, le=1)
    blind: bool | None = None
    active: bool | None = None
    attributes: list[str] | None = Field(None, description="Likert: the attributes", max_length=50)
    scale: list[int] | None = Field(None, description="Likert: [lowest, highest]", min_length=2, max_length=2)
    principles: list[str] | None = Field(None, description="principle checks: the principles", max_length=100)
    show_suggestions: bool | None = None


class ProjectCreate(ProjectSettings):
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(min_length=1, max_length=100, pattern=SLUG)
    task_type: Literal[tuple(TaskType.values)] = "pairwise"  # type: ignore[valid-type]


class MemberOut(Schema):
    username: str
    role: str


class MemberIn(Body):
    role: Literal["owner", "reviewer", "annotator"]


class ProgressOut(Schema):
    items: int
    complete: int
    annotations: int
    gold_annotations: int
    leased: int
    by_state: dict[str, int]


def _out(project: Project, role: str | None) -> dict:
    return {name: getattr(project, name) for name in ProjectOut.model_fields if name != "role"} | {"role": role}


def _role(project: Project, user) -> str | None:
    return Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()


def _checked_changes(project: Project, settings: ProjectSettings) -> dict:
    """The settings page's form, fed the project's values with the request's on top."""
    # null is "not given", as an absent field: a client sending its whole object back changes nothing it nulls.
    given = {k: v for k, v in settings.model_dump(exclude_unset=True).items() if v is not None}
    config = project.config or {}
    scale = given.get("scale", config.get("scale")) or [None, None]
    data = {
        "name": project.name,
        "guidelines": project.guidelines,
        "rationale": project.rationale,
        "overlap": project.overlap,
        "lease_seconds": project.lease_seconds,
        "gold_ratio": project.gold_ratio,
        "blind": project.blind,
        "active": project.active,
        "show_suggestions": bool(config.get("show_suggestions")),
    } | {k: v for k, v in given.items() if k not in ("attributes", "scale", "principles")}
    data["attributes"] = ", ".join(given.get("attributes", config.get("attributes")) or [])
    data["scale_low"], data["scale_high"] = scale
    data["principles"] = "\n".join(given.get("principles", config.get("principles")) or [])
    # A checkbox is absent when off: the form reads an unchecked box from a missing key.
    form_data = {k: v for k, v in data.items() if not (isinstance(v, bool) and not v) and v is not None}
    form = ProjectSettingsForm(form_data, instance=project)
    if not form.is_valid():
        raise ApiError(
            422,
            "The project cannot take these settings.",
            [(name, " ".join(str(m) for m in messages)) for name, messages in form.errors.items()],
        )
    return form.changes()


@router.get("", response={200: list[ProjectOut], **PROBLEMS}, summary="The projects you may use")
def projects_list(request):
    who = caller(request)
    roles = dict(Membership.objects.filter(user=who.user).values_list("project_id", "role"))
    projects = Project.objects.all() if who.is_staff else Project.objects.filter(pk__in=roles)
    return [_out(p, roles.get(p.pk)) for p in projects.order_by("slug") if who.token_allows(p)]


@router.post("", response={201: ProjectOut, **PROBLEMS}, summary="Create a project (you become its owner)")
def project_create_view(request, body: ProjectCreate):
    who = caller(request)
    if not (who.is_staff or who.user.has_perm("annotation.add_project")):
        raise ApiError(403, "Creating projects needs staff or the 'add project' permission.")
    who.require_unlimited("creating a project")
    draft = Project(name=body.name, slug=body.slug, task_type=body.task_type)
    changes = _checked_changes(draft, body)
    try:
        project = project_create(
            creator=who.user, name=body.name, slug=body.slug, task_type=body.task_type, changes=changes
        )
    except ProjectError as error:
        raise ApiError(409, str(error), [("slug", "taken")]) from None
    return Status(201, _out(project, Role.OWNER))


@router.get("/{slug}", response={200: ProjectOut, **PROBLEMS}, summary="One project")
def project_read(request, slug: str):
    who = caller(request)
    project = who.project(slug)
    return _out(project, _role(project, who.user))


@router.patch("/{slug}", response={200: ProjectOut, **PROBLEMS}, summary="Change a project's settings (owners)")
def project_update(request, slug: str, body: ProjectSettings):
    who = caller(request)
    project = who.project(slug, (Role.OWNER,))
    project = project_settings_update(project=project, changes=_checked_changes(project, body))
    return _out(project, _role(project, who.user))


@router.get("/{slug}/members", response={200: list[MemberOut], **PROBLEMS}, summary="Who works in it (owners)")
def members_list(request, slug: str):
    project = caller(request).project(slug, (Role.OWNER,))
    rows = Membership.objects.filter(project=project).select_related("user").order_by("user__username")
    return [{"username": m.user.username, "role": m.role} for m in rows]


@router.put("/{slug}/members/{username}", response={200: MemberOut, **PROBLEMS}, summary="Add or change a member")
def member_put(request, slug: str, username: str, body: MemberIn):
    project = caller(request).project(slug, (Role.OWNER,))
    try:
        membership = member_set(project=project, username=username, role=body.role)
    except ProjectError as error:
        raise ApiError(422, str(error), [("username", str(error))]) from None
    return {"username": membership.user.username, "role": membership.role}


@router.delete("/{slug}/members/{username}", response={204: None, **PROBLEMS}, summary="Remove a member")
def member_delete(request, slug: str, username: str):
    project = caller(request).project(slug, (Role.OWNER,))
    user = get_user_model().objects.filter(username=username).first()
    membership = Membership.objects.filter(project=project, user=user).first() if user else None
    if membership is None:
        raise ApiError(404, f"{username!r} is not a member of {slug!r}.")
    try:
        member_remove(project=project, membership_id=membership.pk)
    except ProjectError as error:
        raise ApiError(409, str(error)) from None
    return Status(204, None)


@router.get("/{slug}/progress", response={200: ProgressOut, **PROBLEMS}, summary="The dashboard's progress figures")
def project_progress_view(request, slug: str):
    project = caller(request).project(slug, (Role.OWNER, Role.REVIEWER))
    return progress(project, done_judgments(project)).__dict__
