"""Session-wide test fixtures for every test path (tests/, plugins/, ml/)."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Before pytest-django drops the test database: end the sessions still connected to
    it, and say which, so the drop does not fail with "being accessed by other users".
    Known: tests/realtime/test_demo_browser.py leaves one connection of this process's
    main thread idle (opened by its ``member_session``), other than the one closed here."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, client_port, state, left(query, 200) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        for pid, port, state, query in cursor.fetchall():
            print(
                f"\nconftest: ending a session left on the test database: backend {pid}"
                f" (client port {port}) {state}: {query}",
                file=sys.stderr,
            )
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
