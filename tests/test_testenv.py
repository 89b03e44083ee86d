"""scripts/testenv.py really starts, restarts and stops PostgreSQL and Redis.

The suite's ``services`` tests rely on these servers, so the tooling gets its own tests.
They need the server binaries but no Django; they skip (saying why) where a binary is
missing instead of installing it (``scripts/testenv.py`` itself installs them as root).
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "testenv.py"
MODULE_NAME = "emotionhub_testenv"


def _load_testenv() -> ModuleType:
    """Import scripts/testenv.py by path: scripts/ is not a package."""
    if MODULE_NAME in sys.modules:
        return sys.modules[MODULE_NAME]
    spec = importlib.util.spec_from_file_location(MODULE_NAME, SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


testenv = _load_testenv()


def _port_closed(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


def _psql() -> str:
    try:
        bindir = testenv.find_postgres_bindir(install=False)
    except testenv.TestEnvError:
        pytest.skip("PostgreSQL server binaries not installed (scripts/testenv.py installs them)")
    psql = testenv.find_pg_client("psql", bindir)
    if psql is None:
        pytest.skip("no psql binary to query the test server with (install postgresql-client)")
    return str(psql)


@pytest.fixture
def redis_server_binary() -> Path:
    try:
        return testenv.find_redis_server(install=False)
    except testenv.TestEnvError:
        pytest.skip("redis-server not installed (scripts/testenv.py installs it)")


def test_redis_starts_restarts_on_same_url_and_stops(
    tmp_path: Path, redis_server_binary: Path
) -> None:
    server = testenv.start_redis(tmp_path)
    try:
        url, first_pid = server.url, server.pid
        assert url == f"redis://127.0.0.1:{server.port}/0"
        assert server.binary == redis_server_binary
        assert testenv.redis_ping(server.port)

        server.restart(downtime=0.2)

        assert server.url == url  # clients configured with REDIS_URL reconnect to it
        assert server.pid != first_pid
        assert testenv.redis_ping(server.port)
    finally:
        server.stop()
    assert not testenv.redis_ping(server.port)
    assert _port_closed(server.port)
    server.stop()  # idempotent: the atexit hook calls it again


def test_postgres_starts_with_database_and_stops(tmp_path: Path) -> None:
    psql = _psql()
    server = testenv.start_postgres(tmp_path)
    # As root, pytest's 0700 tmp_path is unreachable for the pgtest user: the cluster then
    # lives in a directory of its own under /tmp, which stop() must remove.
    outside_tmp_path = server.remove_root_on_stop
    try:
        assert server.url == f"postgres://postgres@127.0.0.1:{server.port}/emotionhub"
        result = subprocess.run(
            [psql, server.url, "-At", "-c", "select 1, current_database()"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "1|emotionhub"
    finally:
        server.stop()
    assert _port_closed(server.port)
    if outside_tmp_path:
        assert not server.root.exists()
    server.stop()


def test_cli_exports_urls_propagates_exit_code_and_cleans_up(
    tmp_path: Path, redis_server_binary: Path
) -> None:
    _psql()  # skips without PostgreSQL binaries
    report = tmp_path / "env.json"
    keys = ["DATABASE_URL", "REDIS_URL", "EMOTIONHUB_TESTENV_DIR", "EMOTIONHUB_REDIS_SERVER"]
    child = (
        "import json, os, sys\n"
        "seen = {k: os.environ.get(k) for k in sys.argv[2:]}\n"
        "with open(sys.argv[1], 'w') as f:\n"
        "    json.dump(seen, f)\n"
        "sys.exit(3)\n"
    )
    # Even when this suite itself runs under testenv.py, make it start servers of its own.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--", sys.executable, "-c", child, str(report), *keys],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3, result.stderr
    seen = json.loads(report.read_text())
    assert seen["DATABASE_URL"].startswith("postgres://postgres@127.0.0.1:")
    assert seen["DATABASE_URL"].endswith("/emotionhub")
    assert seen["REDIS_URL"].startswith("redis://127.0.0.1:")
    assert seen["EMOTIONHUB_REDIS_SERVER"] == str(redis_server_binary)
    assert not Path(seen["EMOTIONHUB_TESTENV_DIR"]).exists()
    pg_port = int(seen["DATABASE_URL"].rsplit(":", 1)[1].split("/")[0])
    redis_port = int(seen["REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
    assert _port_closed(pg_port)
    assert _port_closed(redis_port)


def test_cli_reuses_urls_that_are_already_set(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://someone@127.0.0.1:1/theirs",
        "REDIS_URL": "redis://127.0.0.1:1/5",
    }
    child = "import os; print(os.environ['DATABASE_URL'], os.environ['REDIS_URL'])"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--", sys.executable, "-c", child],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [env["DATABASE_URL"], env["REDIS_URL"]]
