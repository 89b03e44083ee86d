"""Local upstreams for social ingestion tests: real HTTP servers on 127.0.0.1.

Each :class:`Upstream` answers from a route table, in the documented formats of the
services it stands in for, and records every request. Fetching refuses loopback in
production; these tests open ``EMOTIONHUB_FETCH_ALLOWED_NETWORKS`` to 127.0.0.1 only
(tests of the default policy close it again).
"""

from __future__ import annotations

import dataclasses
import io
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from emotionhub.social import schedules
from emotionhub.social.models import Source

# The worker fixtures, for the test that runs a real Celery worker.
from tests.worker.conftest import clean_broker, start_worker  # noqa: F401


@dataclasses.dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclasses.dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict | list = b""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    content_type: str = "application/json"


Route = Callable[[Request], Reply]


class Upstream:
    def __init__(self) -> None:
        self.routes: dict[str, Route | Reply] = {}
        self.requests: list[Request] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                parts = urlsplit(self.path)
                request = Request(
                    parts.path,
                    {k: v[-1] for k, v in parse_qs(parts.query).items()},
                    dict(self.headers),
                )
                upstream.requests.append(request)
                route = upstream.routes.get(parts.path)
                reply = Reply(404, {"error": "not found"}) if route is None else route
                if callable(reply):
                    reply = reply(request)
                body = reply.body
                if isinstance(body, dict | list):
                    body = json.dumps(body)
                if isinstance(body, str):
                    body = body.encode()
                self.send_response(reply.status)
                headers = {"Content-Type": reply.content_type, **reply.headers}
                headers.setdefault("Content-Length", str(len(body)))
                if headers["Content-Length"] == "":  # close-delimited body, no length given
                    del headers["Content-Length"]
                    headers["Connection"] = "close"
                    self.close_connection = True
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def hits(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def upstream():
    server = Upstream()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture(autouse=True)
def allow_loopback(settings):
    settings.EMOTIONHUB_FETCH_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.EMOTIONHUB_FETCH_ALLOW_PRIVATE = False
    settings.EMOTIONHUB_SOCIAL_MIN_INTERVAL_SECONDS = 1


@pytest.fixture
def default_policy(settings):
    """The production address policy: nothing private, loopback included."""
    settings.EMOTIONHUB_FETCH_ALLOWED_NETWORKS = []
    settings.EMOTIONHUB_FETCH_ALLOW_PRIVATE = False


def jpeg_bytes(size=(32, 24), color=(250, 200, 10)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG")
    return buffer.getvalue()


def make_source(tenant, kind: str, config: dict, **fields) -> Source:
    fields.setdefault("analyzers", ["example", "text_length"])
    source = Source.objects.create(
        tenant=tenant, kind=kind, name=f"{kind} source", config=config, **fields
    )
    schedules.sync_schedule(source)
    return source
