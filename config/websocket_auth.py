"""Who is on a websocket: Channels' session and user lookup, run on the process's thread pool.

Channels' ``AuthMiddlewareStack`` reads the session and the user with ``database_sync_to_async``,
whose default runs on the one thread that every consumer of the process shares for sync code
(Django gives each HTTP request a thread of its own; nothing does that for a websocket). Under
load every socket's handshake then queued behind all the others on that thread: seconds at 50
visitors in benchmarks/streaming.py. The lookup is the same; only the thread it runs on differs.
"""

from __future__ import annotations

from channels.auth import AuthMiddleware, get_user
from channels.sessions import CookieMiddleware, SessionMiddleware

from arena.pooled_sync import pooled_sync_to_async

_get_user = pooled_sync_to_async(get_user.func)


class PooledAuthMiddleware(AuthMiddleware):
    async def resolve_scope(self, scope):
        scope["user"]._wrapped = await _get_user(scope)


def auth_middleware_stack(inner):
    """Channels' AuthMiddlewareStack, with the user looked up on the thread pool."""
    return CookieMiddleware(SessionMiddleware(PooledAuthMiddleware(inner)))
