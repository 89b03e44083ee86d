"""The quick start as a person runs it, in real processes: it ends with a working sign-in
and start page on the port asked for, and SIGTERM or SIGINT stops every process it
started (web server, worker, the worker's pool and beat)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.first_hour.embedded import REPO, embedded_env

pytestmark = pytest.mark.workers
DEMO_ANALYZERS = {"example", "text_length"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def processes_with(marker: str) -> list[int]:
    """Every live process whose environment carries ``marker``, whatever its session."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in environ and state != "Z":
            found.append(int(entry.name))
    return found


def left_running(marker: str, timeout: float = 15) -> list[int]:
    """The processes carrying ``marker`` still alive once none is or ``timeout`` passed
    (a pool child may take a moment to exit after its parent on a busy machine)."""
    end = time.monotonic() + timeout
    while (alive := processes_with(marker)) and time.monotonic() < end:
        time.sleep(0.2)
    return alive


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen, log: Path):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"the quick start exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
        try:
            value = predicate()
        except requests.RequestException:
            value = None
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"{what} within {timeout} s:\n{log.read_text()[-4000:]}")


class QuickStart:
    def __init__(self, tmp_path: Path) -> None:
        self.var = tmp_path / "var"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.marker = f"EMOTIONHUB_TEST_RUN={uuid.uuid4().hex}"
        name, value = self.marker.split("=")
        self.log = tmp_path / "quickstart.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                ["bash", "scripts/quickstart.sh", "--skip-install", "--port", str(self.port)],
                cwd=REPO,
                env=embedded_env(self.var, **{name: value}),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_until_serving(self) -> dict:
        wait_for(
            lambda: requests.get(self.url + "/", timeout=5).status_code == 200,
            180,
            "no start page",
            self.proc,
            self.log,
        )

        def worker_alive():
            health = requests.get(self.url + "/api/v1/health", timeout=5).json()
            return health if health["workers"]["count"] >= 1 else None

        return wait_for(worker_alive, 180, "no worker heartbeat", self.proc, self.log)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        for pid in processes_with(self.marker):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def quickstart(tmp_path):
    run = QuickStart(tmp_path)
    yield run
    run.stop()


def sign_in(url: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{url}/admin/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = session.post(
        f"{url}/admin/login/?next=/reporting/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{url}/admin/login/"},
        timeout=10,
    )
    assert answer.status_code == 200 and answer.url.endswith("/reporting/"), answer.text[:500]
    return session


def installed_outside_tests(distribution: str) -> bool:
    """True where this environment has the demo plugin installed for good (an old
    checkout's venv); the quick start would then list it, whatever it installs."""
    from importlib.metadata import distributions

    for dist in distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name == distribution and "test-plugins" not in str(getattr(dist, "_path", "")):
            return True
    return False


def test_quickstart_signs_in_serves_the_port_and_sigterm_stops_everything(quickstart):
    health = quickstart.wait_until_serving()
    assert health["database"]["vendor"] == "sqlite"

    log = quickstart.log.read_text()
    password = (quickstart.var / "admin-password").read_text().strip()
    assert f"password {password}" in log  # printed once, on the first start
    assert oct((quickstart.var / "admin-password").stat().st_mode & 0o777) == "0o600"
    assert f"http://127.0.0.1:{quickstart.port}/" in log
    assert "database is locked" not in log
    assert "Traceback" not in log

    session = sign_in(quickstart.url, "admin", password)
    dashboards = session.get(quickstart.url + "/reporting/", timeout=10)
    assert dashboards.status_code == 200 and "All of demo" in dashboards.text
    landing = session.get(quickstart.url + "/", timeout=10)
    assert "member of the tenant" in landing.text
    key = (quickstart.var / "demo-api-key").read_text().strip()
    analyzers = requests.get(
        quickstart.url + "/api/v1/analyzers",
        headers={"Authorization": f"Api-Key {key}"},
        timeout=30,
    ).json()
    names = {a["name"] for a in analyzers}
    assert {"facial_emotion", "text_sentiment", "image_sentiment"} <= names
    if not installed_outside_tests("emotionhub-dummy-analyzer"):
        assert not names & DEMO_ANALYZERS

    started = processes_with(quickstart.marker)
    assert len(started) >= 2, started  # web server, worker (and its embedded beat)
    os.kill(quickstart.proc.pid, signal.SIGTERM)
    assert quickstart.proc.wait(timeout=60) == 0
    assert left_running(quickstart.marker) == []


def test_ctrl_c_stops_every_process_and_a_second_start_keeps_the_password(quickstart):
    quickstart.wait_until_serving()
    first_password = (quickstart.var / "admin-password").read_text()
    # What a terminal's Ctrl-C does: SIGINT to the whole foreground process group.
    os.killpg(quickstart.proc.pid, signal.SIGINT)
    quickstart.proc.wait(timeout=60)
    assert left_running(quickstart.marker) == []

    again = subprocess.run(
        ["bash", "scripts/quickstart.sh", "--skip-install", "--port", "notaport"],
        cwd=REPO,
        env=embedded_env(quickstart.var),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 2 and "--port must be a number" in again.stderr
    note = subprocess.run(
        [
            "python",
            "manage.py",
            "create_tenant_admin",
            "demo",
            "--password-file",
            str(quickstart.var / "admin-password"),
        ],
        cwd=REPO,
        env=embedded_env(quickstart.var),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "password in" in note
    assert (quickstart.var / "admin-password").read_text() == first_password
