"""Worker database calls survive a dropped connection (a PostgreSQL restart or failover,
``pg_terminate_backend``, a proxy timing out an idle connection).

The whole call is repeated on a fresh connection, and only outside a transaction, so no
half-done work is continued. That is safe for the job lifecycle: every write is conditional
on the attempt that claimed the job (the fencing token) and results are inserted with
``ON CONFLICT DO NOTHING``, so a write whose commit reached the server just before the
connection dropped changes nothing the second time.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import InterfaceError, OperationalError, connection

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
ATTEMPTS = 4
BACKOFF_SECONDS = 0.25


def retry_on_disconnect(func: Callable[P, R]) -> Callable[P, R]:
    """Repeat ``func`` (up to ``ATTEMPTS`` times) when the database connection fails."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return func(*args, **kwargs)
            except (OperationalError, InterfaceError) as exc:
                if connection.in_atomic_block or attempt == ATTEMPTS:
                    raise
                log.warning(
                    "%s: database error (%s); retrying on a new connection (%d/%d)",
                    func.__qualname__,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                    attempt,
                    ATTEMPTS - 1,
                )
                connection.close()
                time.sleep(BACKOFF_SECONDS * attempt)
        raise AssertionError("unreachable")

    return wrapper
