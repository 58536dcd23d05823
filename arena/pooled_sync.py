"""Sync code of a websocket consumer, run on any free thread of the process's pool.

asgiref's ``sync_to_async`` (and Channels' ``database_sync_to_async``) run sync code on the one
thread that every consumer of the process shares, unless told otherwise: under load each socket's
database reads queued behind all the others' there. The battle websocket (arena/consumers.py) and
the session and user lookup of every websocket (config/websocket_auth.py) read through this instead.
"""

from __future__ import annotations

import functools

from asgiref.sync import sync_to_async
from django.db import close_old_connections


def pooled_sync_to_async(func):
    """Run ``func`` on any free thread of the process's pool, and give its database connection back.

    For the database reads of a websocket's handshake. The connection goes back to the pool
    inside the call, on the thread that took it: closed outside it (as channels'
    database_sync_to_async does), a pooled thread's connection stayed checked out.
    """

    @functools.wraps(func)
    def run(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    return sync_to_async(run, thread_sensitive=False)
