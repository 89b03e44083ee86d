"""Fixtures of the first-hour tests: the tenants of tests/reporting (the browser tests' page
fixture is tests/conftest.py's)."""

from __future__ import annotations

from tests.reporting.conftest import tenant_a, tenant_b  # noqa: F401
