"""A project's settings and members, as its owners (or staff, through the admin) change them.

The queue keeps each item's ``open`` flag (annotation/sql.py's ``item_open_sql``) instead of counting
assignments on every claim, so a change of overlap must recount those flags in the same transaction, or
raising the overlap would leave finished items closed for good and lowering it would keep handing out items
that are done.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from annotation.items import ItemsError, ItemsReport, items_import
from annotation.models import Item, Membership, Project, Role
from annotation.sql import item_open


class ProjectError(ValueError):
    """A change the project cannot take; the message says why."""


def items_reopen(project: Project) -> int:
    """Set every item's ``open`` flag from its count and the project's overlap; returns the items changed."""
    stale = Item.objects.filter(project=project).exclude(open=item_open(overlap=project.overlap))
    return stale.update(open=item_open(overlap=project.overlap))


def project_settings_update(*, project: Project, changes: dict) -> Project:
    """Save the changed fields (the form checked each one); recount the open items if the overlap moved."""
    with transaction.atomic():
        # The row lock orders this after a concurrent change of the same project.
        current = Project.objects.select_for_update().get(pk=project.pk)
        overlap_moved = changes.get("overlap", current.overlap) != current.overlap
        for name, value in changes.items():
            setattr(current, name, value)
        current.full_clean()
        current.save()
        if overlap_moved:
            items_reopen(current)
    return current


def project_create(*, creator, name: str, slug: str, task_type: str, changes: dict) -> Project:
    """A new project with its creator as its owner; ``changes`` are settings a form has checked."""
    if Project.objects.filter(slug=slug).exists():
        raise ProjectError(f"There is already a project {slug!r}.")
    with transaction.atomic():
        project = Project(name=name, slug=slug, task_type=task_type)
        for field_name, value in changes.items():
            setattr(project, field_name, value)
        project.full_clean()
        try:
            with transaction.atomic():
                project.save()
        except IntegrityError:  # the same slug, created in the moment since the check
            raise ProjectError(f"There is already a project {slug!r}.") from None
        Membership.objects.create(project=project, user=creator, role=Role.OWNER)
    return project


def member_set(*, project: Project, username: str, role: str) -> Membership:
    """Add someone by username with a role, or change their role."""
    if role not in Role.values:
        raise ProjectError(f"Unknown role {role!r}.")
    user = get_user_model().objects.filter(username=username.strip()).first()
    if user is None:
        raise ProjectError(f"There is no user named {username.strip()!r}.")
    with transaction.atomic():
        membership = Membership.objects.select_for_update().filter(project=project, user=user).first()
        if membership is not None and membership.role == Role.OWNER and role != Role.OWNER:
            _keep_an_owner(project, leaving=membership)
        membership, _ = Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
    return membership


def member_remove(*, project: Project, membership_id: int) -> None:
    with transaction.atomic():
        membership = Membership.objects.select_for_update().filter(project=project, pk=membership_id).first()
        if membership is None:
            raise ProjectError("This person is not a member of the project.")
        if membership.role == Role.OWNER:
            _keep_an_owner(project, leaving=membership)
        membership.delete()


def _keep_an_owner(project: Project, *, leaving: Membership) -> None:
    others = Membership.objects.select_for_update().filter(project=project, role=Role.OWNER).exclude(pk=leaving.pk)
    if not others.exists():
        raise ProjectError("A project needs at least one owner: make someone else an owner first.")


ITEM_SUFFIXES = (".jsonl", ".json", ".csv")
MAX_ITEM_FILE_BYTES = 200 * 1024 * 1024


def items_upload(*, project: Project, upload) -> ItemsReport:
    """An item file an owner uploaded (a Django ``UploadedFile``), through ``items_import``'s checks: a bad
    record rejects the whole file and nothing is added. Raises ItemsError with what is wrong."""
    suffix = Path(upload.name or "").suffix.lower()
    if suffix not in ITEM_SUFFIXES:
        raise ItemsError(f"{upload.name!r}: upload a .jsonl, .json or .csv file")
    if upload.size > MAX_ITEM_FILE_BYTES:
        raise ItemsError(
            f"{upload.name!r} is {upload.size / 2**20:.0f} MB; files up to "
            f"{MAX_ITEM_FILE_BYTES // 2**20} MB are taken here (larger ones: manage.py project_items)"
        )
    with tempfile.NamedTemporaryFile(suffix=suffix) as copy:
        for chunk in upload.chunks():
            copy.write(chunk)
        copy.flush()
        return items_import(project=project, path=Path(copy.name))
