"""/api/v1/projects/{slug}/items: push items in bulk, list, read and retire them.

A push takes the item file's records (annotation/items.py: ``prompt`` or ``messages``, ``candidates``,
``id``, ``category``, ``language``, ``gold``) as a JSON array or as JSON lines, up to ``MAX_PUSH`` a request.
The body is spooled to disk and read a record at a time; every record is checked first, with the file
import's messages and line numbers, and one bad record rejects the whole push. An item is keyed by its
``id`` (else a hash of its content), so a retried push adds nothing.
"""

from __future__ import annotations

from ninja import Field, Query, Router, Schema

from annotation.imports.records import read_json_handle
from annotation.items import ItemsError, TooManyItems, item_retire, items_import_records
from annotation.models import Item, Project, Role
from api.auth import Caller, caller
from api.bodies import Body, spooled_body
from api.errors import PROBLEMS, ApiError
from api.pages import Page, PageQuery, page_of

router = Router(tags=["items"])

MAX_PUSH = 100_000

PUSH_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"type": "array", "items": {"$ref": "#/components/schemas/ItemIn"}, "maxItems": MAX_PUSH}
        },
        "application/x-ndjson": {
            "schema": {"type": "array", "items": {"$ref": "#/components/schemas/ItemIn"}, "maxItems": MAX_PUSH},
            "description": "the same items, one JSON object per line",
        },
    },
}


class CandidateIn(Body):
    model: str = Field(max_length=200)
    text: str


class ItemIn(Body):
    """One record of a push (the item file's fields)."""

    id: str | None = Field(None, description="the item's own id; a push with an id already here adds nothing")
    prompt: str | None = None
    messages: list[dict] | None = None
    candidates: list[CandidateIn] = Field(min_length=1, max_length=16)
    category: str = ""
    language: str = ""
    gold: dict | float | str | None = None
    gold_tolerance: float = 0.0


class PushReport(Schema):
    read: int
    added: int
    already: int


class CandidateOut(Schema):
    position: int
    model: str
    text: str


class ItemOut(Schema):
    id: str = Field(description="the id it was pushed with (or the key of the comparison it shows)")
    context: list
    candidates: list[CandidateOut]
    category: str
    language: str
    is_gold: bool
    gold: dict | float | str | list | None = Field(None, description="the gold answer (owners only)")
    taken: int
    done: int
    open: bool
    retired: bool


def _prefix(project: Project) -> str:
    return f"project:{project.slug}:"


def _out(item: Item, project: Project, *, owner: bool) -> dict:
    comparison = item.comparison
    key = comparison.key
    return {
        "id": key[len(_prefix(project)) :] if key.startswith(_prefix(project)) else key,
        "context": comparison.context,
        "candidates": [{"position": c.position, "model": c.model, "text": c.text} for c in comparison.candidates.all()],
        "category": comparison.category,
        "language": comparison.language,
        "is_gold": item.is_gold,
        "gold": item.gold_answer if owner else None,
        "taken": item.taken,
        "done": item.done,
        "open": item.open,
        "retired": item.retired,
    }


def _sees_gold(who: Caller, project: Project) -> bool:
    """Gold answers are the owners' (and staff's): a reviewer who saw them would grade against them."""
    return who.is_staff or project.memberships.filter(user=who.user, role=Role.OWNER).exists()


def _items(project: Project):
    return Item.objects.filter(project=project).select_related("comparison").prefetch_related("comparison__candidates")


def _item(project: Project, item_id: str) -> Item:
    found = _items(project).filter(comparison__key__in=[_prefix(project) + item_id, item_id]).first()
    if found is None:
        raise ApiError(404, f"No item {item_id!r} in {project.slug!r}.")
    return found


@router.post(
    "/{slug}/items",
    response={200: PushReport, **PROBLEMS},
    summary="Push items (JSON array or JSON lines, up to 100,000)",
    openapi_extra={"requestBody": PUSH_BODY},
)
def items_push(request, slug: str):
    project = caller(request).project(slug, (Role.OWNER,))
    with spooled_body(request) as body:
        if not body.read(1):
            raise ApiError(422, "The body is empty: send a JSON array of items or one item per line.")
        body.seek(0)
        try:
            report = items_import_records(project=project, records=read_json_handle(body), limit=MAX_PUSH)
        except TooManyItems as error:
            raise ApiError(413, str(error)) from None
        except ItemsError as error:
            if not error.errors:  # no items at all
                raise ApiError(422, str(error)) from None
            raise ApiError(
                422, f"{len(error.errors)} record(s) cannot be imported; nothing was imported.", error.errors
            ) from None
    return {"read": report.read, "added": report.added, "already": report.already}


@router.get("/{slug}/items", response={200: Page[ItemOut], **PROBLEMS}, summary="A page of the project's items")
def items_list(request, slug: str, page: Query[PageQuery]):
    who = caller(request)
    project = who.project(slug, (Role.OWNER, Role.REVIEWER))
    owner = _sees_gold(who, project)
    return page_of(_items(project), page, lambda item: _out(item, project, owner=owner))


# Ids may hold a slash ("path:"), so the retire route comes first: the read's pattern would match it too.
@router.post(
    "/{slug}/items/{path:item_id}/retire", response={200: ItemOut, **PROBLEMS}, summary="Retire an item (no new tasks)"
)
def item_retire_view(request, slug: str, item_id: str):
    project = caller(request).project(slug, (Role.OWNER,))
    return _out(item_retire(item=_item(project, item_id)), project, owner=True)


@router.get("/{slug}/items/{path:item_id}", response={200: ItemOut, **PROBLEMS}, summary="One item")
def item_read(request, slug: str, item_id: str):
    who = caller(request)
    project = who.project(slug, (Role.OWNER, Role.REVIEWER))
    return _out(_item(project, item_id), project, owner=_sees_gold(who, project))
