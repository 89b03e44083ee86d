"""The /realtime/ demo page in Debian's Chromium (Playwright) against a real uvicorn serving
emotionhub.asgi: the fake camera plays a .y4m made here from a real portrait, the page
streams it over the WebSocket and draws a labelled face box with a latency figure.
Screenshots in test-artifacts/browser/."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from PIL import Image

from emotionhub.accounts.models import TenantMembership
from tests.browser import ARTIFACTS, chromium, needs_chromium, new_page
from tests.conftest import TenantClient
from tests.realtime.conftest import PHOTOS

pytest.importorskip("torch")
CAMERA_ARGS = [
    "--use-fake-ui-for-media-stream",  # grant the camera without a prompt
    "--use-fake-device-for-media-stream",
]
CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


def write_y4m(path: Path, photo: Path, frames: int = 30, size=(640, 480)) -> None:
    """A YUV4MPEG2 (4:2:0) clip of the portrait on grey, moving a little to the right."""
    with Image.open(photo) as portrait:
        portrait = portrait.convert("RGB")
        portrait.thumbnail(size)
        with path.open("wb") as out:
            out.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F15:1 Ip A1:1 C420jpeg\n".encode())
            for index in range(frames):
                canvas = Image.new("RGB", size, (128, 128, 128))
                canvas.paste(portrait, (100 + index % 10, 0))
                y, cb, cr = (np.asarray(c) for c in canvas.convert("YCbCr").split())
                out.write(b"FRAME\n")
                out.write(y.tobytes())
                for plane in (cb, cr):  # 2x2 subsampling
                    out.write(
                        plane.reshape(size[1] // 2, 2, size[0] // 2, 2)
                        .mean((1, 3))
                        .round()
                        .astype(np.uint8)
                        .tobytes()
                    )


@pytest.fixture
def asgi_server():
    """uvicorn in a thread of this process (it shares the test database), static files on."""
    import uvicorn

    from emotionhub.asgi import build_application

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        build_application(serve_static=True),
        host="127.0.0.1",
        port=port,
        ws="websockets-sansio",
        lifespan="off",
        log_level="warning",
    )
    from django.db import connections

    # Connections of the server's threads close after each request, so the test database
    # can be dropped afterwards.
    kept = connections.settings["default"].get("CONN_MAX_AGE", 0)
    connections.settings["default"]["CONN_MAX_AGE"] = 0
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(15)
    connections.settings["default"]["CONN_MAX_AGE"] = kept
    from asgiref.sync import SyncToAsync

    # asgiref's one thread for sync code (the views) may still hold one.
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


def member_session(tenant_client: TenantClient, username: str) -> str:
    user = get_user_model().objects.create_user(username, password="pw")
    TenantMembership.objects.create(
        user=user, tenant=tenant_client.tenant, scopes=["read", "submit"]
    )
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.fixture
def browser_for(tmp_path):
    clip = tmp_path / "face.y4m"
    write_y4m(clip, PHOTOS / "obama.jpg")
    with chromium([*CAMERA_ARGS, f"--use-file-for-fake-video-capture={clip}"]) as browser:

        def open_page(url: str, session: str):
            # A long timeout: the first frame loads the models.
            page = new_page(browser, 1000, 900, timeout_ms=90_000)
            page.context.add_cookies([{"name": "sessionid", "value": session, "url": url}])
            return page

        yield open_page


def test_the_demo_draws_a_labelled_face_box_and_shows_latency(alice, asgi_server, browser_for):
    page = browser_for(asgi_server, member_session(alice, "viewer"))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{asgi_server}/realtime/")
    assert page.locator("#refusal").is_hidden()
    page.click("#start")
    # A function, not an expression string: the page's CSP forbids eval.
    page.wait_for_function("() => Number(document.getElementById('overlay').dataset.frames) >= 3")
    assert page.text_content("#status") == "streaming"
    latency = page.text_content("#latency")
    assert latency.endswith(" ms") and int(latency.split()[0]) > 0
    assert int(page.text_content("#fps")) >= 1
    assert page.text_content("#faces") == "1"
    track = page.locator("#tracks li").first.text_content()
    assert track.startswith("track 1: ") and track.split(": ")[1].split()[0] in CLASSES
    # The box and its label are drawn on the overlay: opaque pixels in the canvas.
    drawn = page.evaluate(
        """() => {
          const c = document.getElementById('overlay');
          const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let opaque = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i] > 0) opaque++;
          return opaque;
        }"""
    )
    assert drawn > 500
    page.screenshot(path=str(ARTIFACTS / "realtime-demo.png"))
    # Still live (a stream outliving the channel layer's 5 s blocking pop once closed here).
    assert page.text_content("#status") == "streaming", page.text_content("#refusal")
    page.click("#stop")  # enabled while the stream is open: no shorter wait on a busy machine
    assert page.text_content("#status") == "stopped"
    assert not errors


def test_the_purpose_refusal_is_shown_and_the_camera_stays_off(db, asgi_server, browser_for):
    school = TenantClient("school", purpose="education")
    page = browser_for(asgi_server, member_session(school, "teacher"))
    page.goto(f"{asgi_server}/realtime/")
    refusal = page.locator("#refusal")
    assert refusal.is_visible() and "purpose_prohibited" in refusal.text_content()
    assert "EU AI Act" in refusal.text_content()
    assert page.locator("#start").is_disabled()
    page.screenshot(path=str(ARTIFACTS / "realtime-demo-refused.png"))
