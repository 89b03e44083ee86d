"""The safe client: address policy after DNS, redirects re-checked per hop, size limits."""

from __future__ import annotations

import ipaddress

import pytest

from emotionhub.core.http import (
    FetchError,
    RateLimited,
    SafeClient,
    UnsafeUrl,
    address_allowed,
    raise_for_status,
    retry_after_seconds,
)
from tests.social.conftest import Reply


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "224.0.0.1",
    ],
)
def test_default_policy_refuses_non_public_addresses(default_policy, address):
    assert not address_allowed(ipaddress.ip_address(address))


def test_default_policy_allows_public_addresses(default_policy):
    assert address_allowed(ipaddress.ip_address("93.184.216.34"))
    assert address_allowed(ipaddress.ip_address("2606:4700::1111"))


def test_allow_list_opens_only_its_networks(settings):
    settings.EMOTIONHUB_FETCH_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    assert address_allowed(ipaddress.ip_address("127.0.0.1"))
    assert not address_allowed(ipaddress.ip_address("127.0.0.2"))
    assert not address_allowed(ipaddress.ip_address("10.0.0.1"))


def test_loopback_url_is_refused_by_default(default_policy, upstream):
    upstream.routes["/feed"] = Reply(body="ok", content_type="text/plain")
    with SafeClient() as client, pytest.raises(UnsafeUrl, match="non-public"):
        client.get(upstream.url + "/feed")
    assert upstream.requests == []  # refused before connecting


def test_host_name_is_checked_after_resolution(default_policy, upstream):
    with SafeClient() as client, pytest.raises(UnsafeUrl, match="'localhost'"):
        client.get(f"http://localhost:{upstream.server.server_port}/feed")
    assert upstream.requests == []


def test_redirect_to_a_private_address_is_refused(upstream):
    # 127.0.0.1 is allowed for the test server; the hop to 127.0.0.2 (or metadata) is not.
    upstream.routes["/to-loopback"] = Reply(
        302, headers={"Location": f"http://127.0.0.2:{upstream.server.server_port}/x"}
    )
    upstream.routes["/to-metadata"] = Reply(
        301, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    with SafeClient() as client:
        with pytest.raises(UnsafeUrl, match=r"127\.0\.0\.2"):
            client.get(upstream.url + "/to-loopback")
        with pytest.raises(UnsafeUrl, match=r"169\.254\.169\.254"):
            client.get(upstream.url + "/to-metadata")


def test_redirect_with_default_policy_is_refused_at_the_first_hop(default_policy, upstream):
    upstream.routes["/r"] = Reply(302, headers={"Location": "/feed"})
    with SafeClient() as client, pytest.raises(UnsafeUrl):
        client.get(upstream.url + "/r")


def test_redirects_are_followed_and_bounded(settings, upstream):
    settings.EMOTIONHUB_FETCH_MAX_REDIRECTS = 3
    upstream.routes["/a"] = Reply(301, headers={"Location": "/b"})
    upstream.routes["/b"] = Reply(308, headers={"Location": upstream.url + "/c"})
    upstream.routes["/c"] = Reply(body="done", content_type="text/plain")
    upstream.routes["/loop"] = Reply(302, headers={"Location": "/loop"})
    with SafeClient() as client:
        fetched = client.get(upstream.url + "/a")
        assert fetched.body == b"done" and fetched.url.endswith("/c")
        with pytest.raises(FetchError) as caught:
            client.get(upstream.url + "/loop")
    assert caught.value.code == "too_many_redirects"
    assert len(upstream.hits("/loop")) == 4  # the first request and three redirects


def test_redirect_to_another_scheme_is_refused(upstream):
    upstream.routes["/file"] = Reply(302, headers={"Location": "file:///etc/passwd"})
    with SafeClient() as client, pytest.raises(UnsafeUrl, match="http"):
        client.get(upstream.url + "/file")


def test_body_over_the_limit_is_refused_declared_or_streamed(upstream):
    upstream.routes["/declared"] = Reply(body=b"x" * 2000, content_type="text/plain")
    # No Content-Length: the limit is enforced while the body streams in.
    upstream.routes["/streamed"] = Reply(
        body=b"y" * 500_000, content_type="text/plain", headers={"Content-Length": ""}
    )
    with SafeClient() as client:
        with pytest.raises(FetchError) as declared:
            client.get(upstream.url + "/declared", max_bytes=1000)
        assert declared.value.code == "response_too_large" and "declares" in declared.value.message
        assert client.get(upstream.url + "/declared", max_bytes=2000).body == b"x" * 2000
        with pytest.raises(FetchError) as streamed:
            client.get(upstream.url + "/streamed", max_bytes=100_000)
        assert streamed.value.code == "response_too_large" and "more than" in streamed.value.message


def test_content_type_is_checked_before_the_body(upstream):
    upstream.routes["/page"] = Reply(body="<html></html>", content_type="text/html")
    with SafeClient() as client, pytest.raises(FetchError) as caught:
        client.get(upstream.url + "/page", allowed_types=("image/",))
    assert caught.value.code == "unexpected_content_type"


def test_429_becomes_rate_limited_with_retry_after(upstream):
    upstream.routes["/limited"] = Reply(429, {"error": "slow down"}, headers={"Retry-After": "120"})
    with SafeClient() as client:
        fetched = client.get(upstream.url + "/limited")
    with pytest.raises(RateLimited) as caught:
        raise_for_status(fetched)
    assert caught.value.retry_after == 120 and caught.value.http_status == 429


def test_retry_after_forms():
    assert retry_after_seconds({"Retry-After": "30"}) == 30
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0
    assert retry_after_seconds({"x-ratelimit-reset": "42"}) == 42
    assert retry_after_seconds({}) is None


def test_connection_refused_is_a_fetch_error(upstream):
    port = upstream.server.server_port
    upstream.server.shutdown()
    upstream.server.server_close()
    with SafeClient() as client, pytest.raises(FetchError) as caught:
        client.get(f"http://127.0.0.1:{port}/gone")
    assert caught.value.code == "connection_failed"
