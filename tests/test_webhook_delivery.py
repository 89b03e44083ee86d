"""Webhook deliveries go through the safe client: the address is checked in the connection
that sends the body, and the socket is opened to the address that was checked.

A real HTTP receiver on 127.0.0.1; name resolution is steered per call so a host can
"rebind" between the submission-time check and the delivery.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from emotionhub.jobs import webhooks


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                receiver.bodies.append((dict(self.headers), self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_port


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def webhook_policy(settings):
    """Production policy, with only 127.0.0.1 opened (where the receiver listens)."""
    settings.EMOTIONHUB_WEBHOOK_ALLOW_PRIVATE = False
    settings.EMOTIONHUB_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]


@pytest.fixture
def dns(monkeypatch):
    """``hook.test`` resolves to the next address in ``answers`` (the last one repeats);
    every lookup of it is counted. Other names resolve normally."""
    real = socket.getaddrinfo
    state = {"answers": ["127.0.0.1"], "lookups": 0}

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "hook.test":
            return real(host, port, *args, **kwargs)
        index = min(state["lookups"], len(state["answers"]) - 1)
        state["lookups"] += 1
        address = state["answers"][index]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return state


def test_a_delivery_is_signed_and_reaches_the_checked_address(webhook_policy, dns, receiver):
    # After the one checked lookup, the name would point at a private address: the
    # connection must not look it up again.
    dns["answers"] = ["127.0.0.1", "10.0.0.1"]
    answer = webhooks.post(f"http://hook.test:{receiver.port}/h", "s3cret", "ping", {"a": 1})
    assert answer.status == 204
    assert dns["lookups"] == 1
    ((headers, body),) = receiver.bodies
    assert json.loads(body) == {"a": 1}
    assert headers["Host"] == f"hook.test:{receiver.port}"
    expected = webhooks.sign("s3cret", int(headers["X-EmotionHub-Timestamp"]), body)
    assert headers["X-EmotionHub-Signature"] == expected


def test_a_host_that_rebinds_after_the_submission_check_is_refused(webhook_policy, dns, receiver):
    url = f"http://hook.test:{receiver.port}/h"
    dns["answers"] = ["127.0.0.1", "169.254.169.254"]
    webhooks.check_url(url)  # at submission: allowed
    with pytest.raises(webhooks.UnsafeUrl, match=r"169\.254\.169\.254"):
        webhooks.post(url, "s3cret", "ping", {"a": 1})
    assert receiver.bodies == []


def test_a_private_receiver_is_refused_before_connecting(settings, receiver):
    settings.EMOTIONHUB_WEBHOOK_ALLOW_PRIVATE = False
    settings.EMOTIONHUB_WEBHOOK_ALLOWED_NETWORKS = []
    url = f"http://127.0.0.1:{receiver.port}/h"
    with pytest.raises(webhooks.UnsafeUrl, match="non-public"):
        webhooks.check_url(url)
    with pytest.raises(webhooks.UnsafeUrl, match="non-public"):
        webhooks.post(url, "s3cret", "ping", {})
    assert receiver.bodies == []


def test_redirects_are_not_followed(webhook_policy, receiver):
    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.1:{receiver.port}/h")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        answer = webhooks.post(f"http://127.0.0.1:{server.server_port}/", "s", "ping", {})
    finally:
        server.shutdown()
        server.server_close()
    assert answer.status == 307
    assert receiver.bodies == []
