"""When to try a request again, and how long to wait first.

The API answers 429 when a token is over its requests a minute and 503 when it cannot serve for a while;
both say in ``Retry-After`` when to come back, and the client waits that long. A request that failed before
it reached the server (no connection) is always safe to send again; one that failed on the way back (a
dropped connection, a read timeout) is sent again only when repeating it changes nothing: reads, and the
writes that the API keys by content (an item push, a judgments write).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

RETRY_STATUSES = frozenset({429, 503})
MAX_BACKOFF_S = 30.0


def retry_after(response: httpx.Response) -> float | None:
    """The wait ``Retry-After`` asks for, in seconds (it may be a number or an HTTP date); None without one."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": a time in UTC, of no stated zone
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def backoff(attempt: int) -> float:
    """The wait before retry number ``attempt`` (0-based) when the server named none: 0.5 s, doubling, at most
    30 s, so a server that is restarting has time to come back."""
    return min(MAX_BACKOFF_S, 0.5 * 2**attempt)


def sent_nothing(error: httpx.TransportError) -> bool:
    """Whether the request certainly never reached the server, so that sending it again cannot do it twice."""
    return isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
