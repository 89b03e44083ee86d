"""Text holding U+0000 is refused with a clear error wherever it sits: PostgreSQL text
cannot store it, and sniffing reads only a file's first 8 KiB (a 500 at the INSERT before)."""

from __future__ import annotations

import pytest

from emotionhub.jobs.models import Submission
from emotionhub.media.models import Media
from tests.conftest import upload

pytestmark = [pytest.mark.services, pytest.mark.django_db]


def nothing_written() -> bool:
    return not (Media.objects.exists() or Submission.objects.exists())


@pytest.mark.parametrize("offset", [10, 9000, 60_000])
def test_text_file_with_a_nul_byte_anywhere_is_refused(alice, offset):
    data = b"a" * offset + b"\x00" + b"b" * 100
    response = alice.submit(files=[upload("notes.txt", data)], analyzers="text_length")
    assert response.status_code == 415, response.content
    error = response.json()["error"]
    assert error["code"] == "unsupported_media_type" and "file[0]" in error["message"]
    assert nothing_written()


def test_text_fields_with_a_nul_character_are_refused(alice):
    """A guard: DRF's CharField already refuses U+0000 in form and JSON text fields."""
    for data, fmt in [
        ({"text": ["x" * 9000 + "\x00"]}, "multipart"),
        ({"text": ["ok\x00"]}, "json"),
    ]:
        response = alice.client.post("/api/v1/submissions", data, format=fmt)
        assert response.status_code == 400, response.content
        assert "text" in response.json()["error"]["details"]
    assert nothing_written()


def test_long_text_file_without_nul_is_still_accepted(alice):
    response = alice.submit(files=[upload("long.txt", b"word " * 4000)], analyzers="text_length")
    assert response.status_code == 202, response.content
