"""The production compose file is valid and has the agreed shape."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return ["docker", "compose"] if shutil.which("docker") and probe.returncode == 0 else None


@pytest.fixture
def compose():
    command = compose_command()
    if command is None:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed")
    env = {**os.environ, "SECRET_KEY": "s", "POSTGRES_PASSWORD": "p"}

    def run(*args: str) -> str:
        return subprocess.run(
            [*command, "-f", str(ROOT / "docker-compose.yml"), *args],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            cwd=ROOT,
        ).stdout

    return run


def test_compose_file_is_valid_with_the_production_services(compose):
    import yaml

    compose("config", "-q")
    services = yaml.safe_load(compose("--profile", "gpu", "config"))["services"]
    assert set(services) == {
        "postgres",
        "redis",
        "migrate",
        "web",
        "worker-cpu",
        "worker-gpu",
        "realtime",
        "realtime-gpu",
        "beat",
    }
    opt_in = {name for name, service in services.items() if service.get("profiles")}
    assert opt_in == {"worker-gpu", "realtime-gpu"}
    assert services["worker-gpu"]["profiles"] == services["realtime-gpu"]["profiles"] == ["gpu"]


def test_gpu_worker_reserves_an_nvidia_device_and_consumes_the_gpu_queue(compose):
    import yaml

    config = yaml.safe_load(compose("--profile", "gpu", "config"))
    gpu = config["services"]["worker-gpu"]
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert "analysis_gpu" in json.dumps(gpu["command"])
    assert gpu["environment"]["DATABASE_URL"].startswith("postgres://")


def test_realtime_services_serve_the_asgi_app_with_uvicorn(compose):
    import yaml

    services = yaml.safe_load(compose("--profile", "gpu", "config"))["services"]
    for name in ("realtime", "realtime-gpu"):
        command = json.dumps(services[name]["command"])
        assert (
            "uvicorn emotionhub.asgi:application" in command and "--ws websockets-sansio" in command
        )
        assert services[name]["environment"]["EMOTIONHUB_REALTIME_PRELOAD"] == "true"
        assert services[name]["environment"]["REDIS_URL"].startswith("redis://")  # the layer
    (device,) = services["realtime-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert "deploy" not in services["realtime"]


def dockerfile_copies() -> list[str]:
    """The build-context paths the Dockerfile's COPY instructions take (no --from stages)."""
    sources = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            sources += [w for w in words[1:-1] if not w.startswith("--")]
    return sources


def test_the_image_holds_the_documents_that_messages_point_at():
    from emotionhub.accounts import purpose

    copied = [Path(source) for source in dockerfile_copies()]
    assert (
        not (ROOT / ".dockerignore").exists()
        or "docs" not in (ROOT / ".dockerignore").read_text().split()
    )
    for document in (purpose.DOCS, "docs/security.md"):
        assert (ROOT / document).is_file(), document
        assert any(Path(document).is_relative_to(source) for source in copied), (
            f"{document} is named in error messages but the Dockerfile does not copy it"
        )


def dockerfile_runs() -> list[str]:
    """Each RUN instruction with its continuation lines joined."""
    runs, current = [], None
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if current is None and line.startswith("RUN "):
            current = line[4:]
        elif current is not None:
            current += " " + line.strip()
        if current is not None and not line.rstrip().endswith("\\"):
            runs.append(current.replace("\\", " "))
            current = None
    return runs


def test_a_failed_install_fails_the_image_build():
    """No step may swallow its own failure (a trailing ``; true`` built images without
    the analyzers)."""
    for run in dockerfile_runs():
        words = run.replace(";", " ; ").split()
        assert "true" not in words and "||" not in words, run


def test_the_production_image_installs_the_shipped_analyzers_and_no_test_plugin():
    installs = " ".join(run for run in dockerfile_runs() if "pip install" in run)
    plugins = sorted(p.parent.name for p in (ROOT / "plugins").glob("*/pyproject.toml"))
    assert plugins and all(f"./plugins/{name}" in installs for name in plugins)
    assert "tests/" not in installs
    assert not any(source.startswith("tests") for source in dockerfile_copies())
