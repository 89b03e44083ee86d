"""Property-based fuzzing of every API operation against the OpenAPI schema we serve.

Schemathesis generates valid and invalid requests from ``/api/v1/schema/`` and sends them
to the WSGI app with a key holding every scope. Any 5xx is a bug, and each answer must
match what the schema documents: status code, content type, headers and body. Examples are
bounded and derandomized, so CI sees the same requests on every run.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis import checks

from emotionhub.wsgi import application
from tests.conftest import TenantClient

pytestmark = pytest.mark.services

MAX_EXAMPLES = 25
# What every answer must satisfy. Not run: positive_data_acceptance and
# negative_data_rejection, which judge how strict validation is rather than what the
# schema promises (DRF ignores an unparsable page_size, multipart cannot send JSON null,
# cross-field rules such as brand thresholds are not expressible in the schema).
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.ignored_auth,
]


# Loaded at collection through the app itself: the schema that clients are served.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)


@pytest.fixture(autouse=True)
def _keep_test_connection():
    """As Django's test client does: the request signals would close the test's database
    connection, and with it the transaction that isolates this test."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_key(db) -> str:
    """A tenant that declared a purpose, and a key with every scope."""
    client = TenantClient("fuzz", scopes=("read", "submit", "admin"))
    # Far above what the examples send: the fuzzing is about the API, not the rate limit.
    client.key.rate_limit_per_minute = client.key.daily_item_quota = 1_000_000
    client.key.save(update_fields=["rate_limit_per_minute", "daily_item_quota"])
    return client.raw_key


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_matches_its_schema(case, fuzz_key):
    case.call_and_validate(headers={"Authorization": f"Api-Key {fuzz_key}"}, checks=CHECKS)
