"""Smaller holes from the break-test: alert webhooks checked at creation, NAT64 and 6to4
addresses judged by the IPv4 address they carry, a hand-edited admin filter, and the
corrupt-video message naming the server's temporary file."""

from __future__ import annotations

import ipaddress

import pytest

from emotionhub.core import http as fetching
from emotionhub.core.addresses import is_public
from emotionhub.jobs import webhooks
from emotionhub.reporting.models import Brand
from tests.reporting.conftest import make_media, make_result, make_reviewer, signed_in
from tests.reporting.conftest import text_payload as sentiment_payload

pytestmark = pytest.mark.django_db

PRIVATE_BEHIND_IPV6 = [
    "64:ff9b::7f00:1",  # NAT64 well-known prefix, 127.0.0.1
    "64:ff9b::a00:5",  # NAT64, 10.0.0.5
    "64:ff9b::a9fe:a9fe",  # NAT64, 169.254.169.254 (cloud metadata)
    "::ffff:192.168.1.1",  # IPv4-mapped
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
]


@pytest.mark.parametrize("raw", PRIVATE_BEHIND_IPV6)
def test_ipv6_forms_of_private_ipv4_addresses_are_refused_by_both_checks(settings, raw):
    settings.EMOTIONHUB_WEBHOOK_ALLOW_PRIVATE = False
    settings.EMOTIONHUB_FETCH_ALLOW_PRIVATE = False
    assert not fetching.address_allowed(ipaddress.ip_address(raw))
    with pytest.raises(webhooks.UnsafeUrl):
        webhooks.check_url(f"http://[{raw}]/hook")


def test_nat64_of_a_public_address_is_public():
    assert is_public(ipaddress.ip_address("64:ff9b::808:808"))  # 8.8.8.8
    assert is_public(ipaddress.ip_address("2606:4700:4700::1111"))


@pytest.mark.parametrize("url", ["http://127.0.0.1/hook", "http://[64:ff9b::a00:1]/hook"])
def test_brand_alert_webhook_to_a_private_address_is_refused_at_creation(alice, settings, url):
    settings.EMOTIONHUB_WEBHOOK_ALLOW_PRIVATE = False
    response = alice.client.post(
        "/api/v1/brands", {"name": "Launch", "alert_webhook_url": url}, format="json"
    )
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and "alert_webhook_url" in error["details"]
    assert not Brand.objects.exists()
    created = alice.client.post("/api/v1/brands", {"name": "Launch"}, format="json")
    assert created.status_code == 201
    patched = alice.client.patch(
        f"/api/v1/brands/{created.json()['id']}", {"alert_webhook_url": url}, format="json"
    )
    assert patched.status_code == 400
    assert Brand.objects.get().alert_webhook_url == ""


def test_review_queue_with_a_source_that_is_not_a_uuid_lists_nothing(alice):
    make_result(
        make_media(alice.tenant, text="fine"), "text_sentiment", sentiment_payload("positive", 0.8)
    )
    client = signed_in(make_reviewer(alice.tenant, "rev"))
    assert client.get("/admin/review/reviewitem/").context["cl"].result_count == 1
    page = client.get("/admin/review/reviewitem/", {"source": "notauuid"})
    assert page.status_code == 200
    assert page.context["cl"].result_count == 0


def test_corrupt_video_message_names_the_upload_not_a_server_path(alice):
    from tests.conftest import upload

    data = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 500
    response = alice.submit(files=[upload("holiday.mp4", data)])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "corrupt_video"
    assert "'holiday.mp4'" in error["message"]
    assert "tmp" not in error["message"] and ".video" not in error["message"]
