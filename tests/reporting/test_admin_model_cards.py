"""The review queue links each result's model card."""

from __future__ import annotations

import pytest

from tests.reporting.conftest import make_reviewer, signed_in
from tests.reporting.test_review import QUEUE, faces_result  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def test_review_queue_links_the_model_card(tenant_a, faces_result):  # noqa: F811
    page = signed_in(make_reviewer(tenant_a, "rev")).get(QUEUE)
    assert page.status_code == 200
    assert 'href="/api/v1/analyzers/facial_emotion/model-card"' in page.content.decode()
