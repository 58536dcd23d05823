"""The Client: one HTTP connection pool, the token, retries and errors, and the API's resources as attributes.

Every request goes through ``Client.send``, so the rules are in one place: ``Authorization: Bearer <token>``
on each request; 429 and 503 waited out as ``Retry-After`` says (up to ``max_retries`` times, then raised);
connection failures retried when sending again is safe (see retries.py); every other non-2xx answer raised as
an AgoraError built from the problem the API returned.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from agora_client.errors import error_from_response
from agora_client.exports import Exports
from agora_client.items import Items
from agora_client.judgments import Judgments
from agora_client.models import Models
from agora_client.projects import Projects
from agora_client.ratings import Ratings
from agora_client.retries import RETRY_STATUSES, backoff, retry_after, sent_nothing
from agora_client.version import __version__

API_PATH = "/api/v1"
PAGE_SIZE = 1000  # the API's largest page


class Client:
    """A client of one Agora server: ``Client("https://agora.example.org", token)``.

    ``base_url`` is the site's address (``/api/v1`` is appended; an address that already ends in it is taken
    as it is). ``token`` is an API token (create one at /api/tokens/ or with ``manage.py api_token``).
    ``transport`` is handed to httpx, for a proxy or a test's mock transport. Use it as a context manager, or
    call ``close()``, to close its connections."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 5,
        transport: httpx.BaseTransport | None = None,
    ):
        root = base_url.rstrip("/")
        if not root.endswith(API_PATH):
            root += API_PATH
        headers = {"User-Agent": f"agora-client/{__version__}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = root
        self.max_retries = max_retries
        self._http = httpx.Client(base_url=root, headers=headers, timeout=timeout, transport=transport)
        self.projects = Projects(self)
        self.items = Items(self)
        self.judgments = Judgments(self)
        self.exports = Exports(self)
        self.ratings = Ratings(self)
        self.models = Models(self)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"Client({self.base_url!r})"

    # --- the HTTP layer ------------------------------------------------------------------------------

    def send(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json: Any = None,
        content: Callable[[], Iterable[bytes]] | None = None,
        headers: dict | None = None,
        stream: bool = False,
        repeatable: bool | None = None,
    ) -> httpx.Response:
        """The 2xx response to a request, after the retries; raises AgoraError for any other answer.

        ``content`` makes the body afresh for each try (a generator cannot be sent twice). ``repeatable``: a
        request whose repetition changes nothing, so that it is sent again when the connection fails after it
        left; GET by default. With ``stream``, the body is not read: close the response (``streamed`` does)."""
        if repeatable is None:
            repeatable = method == "GET"
        attempt = 0
        while True:
            request = self._http.build_request(
                method, path, params=params, json=json, content=content() if content else None, headers=headers
            )
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as error:
                if attempt >= self.max_retries or not (repeatable or sent_nothing(error)):
                    raise
                time.sleep(backoff(attempt))
                attempt += 1
                continue
            if response.status_code in RETRY_STATUSES and attempt < self.max_retries:
                wait = retry_after(response)
                response.close()
                time.sleep(backoff(attempt) if wait is None else wait)
                attempt += 1
                continue
            if response.is_success:
                return response
            response.read()
            response.close()
            raise error_from_response(response)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The decoded JSON of a request's answer (None for 204 No Content)."""
        response = self.send(method, path, **kwargs)
        return None if response.status_code == 204 or not response.content else response.json()

    @contextmanager
    def streamed(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A response whose body is read as it arrives (NDJSON, files), closed on leaving."""
        response = self.send(method, path, stream=True, **kwargs)
        try:
            yield response
        finally:
            response.close()

    def pages(self, path: str, params: dict | None = None) -> Iterator[dict]:
        """Every result of a paged listing (``{"results": [...], "next": cursor}``), a page at a time."""
        params = dict(params or {}, limit=PAGE_SIZE)
        while True:
            page = self.call("GET", path, params=params)
            yield from page["results"]
            if page.get("next") is None:
                return
            params["after"] = page["next"]
