"""Media submitted by URL: fetched through the safe client, validated like uploads.

A real HTTP server on 127.0.0.1 plays the remote host. Loopback is refused by default, so
the tests that fetch from it open ``EMOTIONHUB_FETCH_ALLOWED_NETWORKS`` to 127.0.0.1/32
only; the policy tests close it again.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import png_bytes
from tests.test_api_submissions import assert_error, row_counts

IMAGE = png_bytes(size=(30, 20))


class Host:
    """Serves ``routes`` (path → (status, headers, body)) and counts the requests."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.hits: list[str] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                host.hits.append(self.path)
                status, headers, body = host.routes.get(self.path, (404, {}, b"missing"))
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def host(settings):
    settings.EMOTIONHUB_FETCH_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.EMOTIONHUB_FETCH_ALLOW_PRIVATE = False
    server = Host()
    server.routes["/cat.png"] = (200, {"Content-Type": "image/png"}, IMAGE)
    yield server
    server.server.shutdown()
    server.server.server_close()


def submit_urls(client, *urls, **fields):
    return client.client.post(
        "/api/v1/submissions", {"urls": list(urls), **fields}, format="multipart"
    )


def test_an_image_by_url_is_fetched_and_stored(alice, host):
    host.routes["/go"] = (302, {"Location": "/cat.png"}, b"")
    response = submit_urls(alice, host.url("/go"), analyzers="example")
    assert response.status_code == 202, response.content
    (item,) = response.json()["items"]
    assert (item["kind"], item["width"], item["height"]) == ("image", 30, 20)
    assert item["original_name"] == "cat.png"
    assert host.hits == ["/go", "/cat.png"]


def test_urls_combine_with_files_and_texts(alice, host):
    from tests.conftest import upload

    response = alice.client.post(
        "/api/v1/submissions",
        {"urls": [host.url("/cat.png")], "file": [upload("a.png", IMAGE)], "text": ["hi"]},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    assert sorted(item["kind"] for item in response.json()["items"]) == ["image", "image", "text"]


@pytest.mark.parametrize(
    ("route", "status", "code"),
    [
        ((404, {}, b"nope"), 400, "fetch_failed"),
        ((200, {"Content-Type": "image/png"}, IMAGE + b"PK\x03\x04" * 20), 400, "polyglot_file"),
        ((200, {"Content-Type": "image/png"}, IMAGE[:80]), 400, "corrupt_image"),
        ((200, {}, b"\x00\x01\x02\xff" * 10), 415, "unsupported_media_type"),
    ],
    ids=["http-404", "polyglot", "truncated", "junk"],
)
def test_fetched_media_is_validated_like_an_upload(alice, host, settings, route, status, code):
    host.routes["/thing"] = route
    before = row_counts()
    # A good URL first proves nothing of the batch is kept when a later one is bad.
    assert_error(submit_urls(alice, host.url("/cat.png"), host.url("/thing")), status, code)
    assert row_counts() == before


def test_a_body_over_the_limit_is_file_too_large(alice, host, settings):
    limit = len(IMAGE) - 1
    settings.EMOTIONHUB_MAX_UPLOAD_BYTES = {"image": limit, "video": limit, "text": limit}
    error = assert_error(submit_urls(alice, host.url("/cat.png")), 413, "file_too_large")
    assert error["details"] == {"limit": limit}
    assert row_counts() == (0, 0, 0)


def test_a_redirect_to_an_address_outside_the_policy_is_refused(alice, host):
    """Only 127.0.0.1 is open: a hop to other loopback, link-local or private is not."""
    for target in (
        "http://127.0.0.2:9/x",
        f"http://[::1]:{host.port}/cat.png",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/admin",
    ):
        host.routes["/hop"] = (302, {"Location": target}, b"")
        assert_error(submit_urls(alice, host.url("/hop")), 400, "unsafe_url")
    assert row_counts() == (0, 0, 0)


def test_too_many_redirects(alice, host, settings):
    settings.EMOTIONHUB_FETCH_MAX_REDIRECTS = 2
    host.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    error = assert_error(submit_urls(alice, host.url("/loop")), 400, "fetch_failed")
    assert error["details"]["reason"] == "too_many_redirects"
    assert len(host.hits) == 3


def test_the_default_policy_refuses_loopback(alice, host, settings):
    """Redirect hops are checked like the first one (see the redirect test above)."""
    settings.EMOTIONHUB_FETCH_ALLOWED_NETWORKS = []
    assert_error(submit_urls(alice, host.url("/cat.png")), 400, "unsafe_url")
    # The check is on the resolved address, so a name for loopback is refused as well.
    assert_error(submit_urls(alice, f"http://localhost:{host.port}/cat.png"), 400, "unsafe_url")
    assert host.hits == []
    assert row_counts() == (0, 0, 0)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/a.png", "http://user:pw@example.com/a"]
)
def test_only_plain_http_urls_are_fetched(alice, url):
    assert_error(submit_urls(alice, url), 400, "unsafe_url")
    assert row_counts() == (0, 0, 0)


class SlowHost(Host):
    """Answers ``/slow/<seconds>/...`` after sleeping that long."""

    def __init__(self) -> None:
        import time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.routes = {}
        self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                time.sleep(float(self.path.split("/")[2]))
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(IMAGE)))
                self.end_headers()
                self.wfile.write(IMAGE)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def slow_host(settings):
    settings.EMOTIONHUB_FETCH_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.EMOTIONHUB_FETCH_ALLOW_PRIVATE = False
    server = SlowHost()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_a_submissions_urls_are_fetched_together_within_one_deadline(alice, slow_host, settings):
    """Five upstreams taking 2 s each fit a 6 s deadline only when fetched concurrently
    (one after another they take 10 s); 4 s to spare either way on a busy machine."""
    settings.EMOTIONHUB_URL_FETCH_DEADLINE_SECONDS = 6
    urls = [slow_host.url(f"/slow/2/{i}.png") for i in range(5)]
    response = submit_urls(alice, *urls, analyzers="example")
    assert response.status_code == 202, response.content
    assert [item["original_name"] for item in response.json()["items"]] == [
        f"{i}.png" for i in range(5)
    ]


def test_an_upstream_slower_than_the_deadline_is_a_clear_error(alice, slow_host, settings):
    settings.EMOTIONHUB_URL_FETCH_DEADLINE_SECONDS = 1
    settings.EMOTIONHUB_FETCH_TIMEOUT_SECONDS = 10
    before = row_counts()
    response = submit_urls(
        alice, slow_host.url("/slow/0/ok.png"), slow_host.url("/slow/5/hangs.png")
    )
    error = assert_error(response, 400, "fetch_failed")
    assert error["details"]["reason"] == "deadline" and "urls[1]" in error["message"]
    assert row_counts() == before
