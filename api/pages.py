"""Cursor pagination: ``?after=<cursor>&limit=N`` → ``{"results": […], "next": <cursor or null>}``.

The cursor is the last row's id, so a page is one index range scan however deep the client reads, and rows
added while a client pages are not shown twice or skipped before the cursor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from django.db.models import QuerySet
from ninja import Field, Schema

T = TypeVar("T")
MAX_LIMIT = 1000


class PageQuery(Schema):
    after: int | None = Field(None, ge=0, le=2**63 - 1, description="the `next` of the previous page")
    limit: int = Field(100, ge=1, le=MAX_LIMIT)


class Page(Schema, Generic[T]):
    results: list[T]
    next: int | None = Field(description="pass as `after` for the next page; null on the last page")


def page_of(queryset: QuerySet, page: PageQuery, render: Callable) -> dict:
    if page.after is not None:
        queryset = queryset.filter(pk__gt=page.after)
    rows = list(queryset.order_by("pk")[: page.limit + 1])
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return {"results": [render(r) for r in rows], "next": rows[-1].pk if more else None}
