"""A project's items: push them in bulk, list, read and retire them (``client.items``).

A record is the item file's: ``prompt`` (or ``messages``), ``candidates`` (``[{"model", "text"}, …]``) and
optionally ``id``, ``category``, ``language``, ``gold`` and ``gold_tolerance``. The server keys an item by its
``id`` (else by a hash of its content), so pushing the same records again adds nothing: that is what makes a
push safe to retry, by the client after a dropped connection or by you after a crash half-way through a list.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agora_client import ndjson
from agora_client.paths import segment

if TYPE_CHECKING:
    from agora_client.client import Client

MAX_PUSH = 100_000  # the server's cap on the records of one request


@dataclass
class PushReport:
    """What a push did, summed over its requests: records ``read``, items ``added``, and those ``already``
    in the project (pushed before)."""

    read: int = 0
    added: int = 0
    already: int = 0

    def __add__(self, other: PushReport) -> PushReport:
        return PushReport(self.read + other.read, self.added + other.added, self.already + other.already)


class Items:
    def __init__(self, client: Client):
        self._client = client

    def push(self, slug: str, records: Any, *, batch_size: int = 10_000) -> PushReport:
        """Add items to the project (owners): ``records`` is a list or any iterable of dicts, a
        ``datasets.Dataset`` or a pandas DataFrame.

        They are sent ``batch_size`` records a request (at most 100,000, the server's cap), each request a body
        of JSON lines made as it is sent. The server checks every record of a request before it writes any, so
        a bad record (raised as ``Invalid``, its ``errors`` naming ``line N`` of that request) leaves the
        requests before it done and nothing of its own: fix the record and push everything again, since what
        is already there is only counted in ``already``."""
        if not 1 <= batch_size <= MAX_PUSH:
            raise ValueError(f"batch_size must be from 1 to {MAX_PUSH:,}")
        report = PushReport()
        path = f"/projects/{segment(slug)}/items"
        for batch in ndjson.batches(ndjson.records_of(records), batch_size):
            answer = self._client.call(
                "POST",
                path,
                content=ndjson.body(batch),
                headers={"Content-Type": ndjson.CONTENT_TYPE},
                repeatable=True,  # keyed by id or content: a second copy adds nothing
            )
            report += PushReport(answer["read"], answer["added"], answer["already"])
        return report

    def list(self, slug: str) -> Iterator[dict]:
        """Every item of the project, in the order they were added, read a page at a time (owners, reviewers)."""
        return self._client.pages(f"/projects/{segment(slug)}/items")

    def get(self, slug: str, item_id: str) -> dict:
        """One item, by the ``id`` it was pushed with."""
        return self._client.call("GET", f"/projects/{segment(slug)}/items/{segment(item_id)}")

    def retire(self, slug: str, item_id: str) -> dict:
        """Hand the item out no more (owners); leases out now may still be answered, and answers are kept."""
        path = f"/projects/{segment(slug)}/items/{segment(item_id)}/retire"
        return self._client.call("POST", path, repeatable=True)
