"""What each process imports: the web process never loads torch, and the worker's task
modules never load the REST layer. Each check runs in a fresh interpreter, since this
test process has long imported everything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_after(code: str) -> set[str]:
    """The modules loaded by a fresh interpreter after Django set-up and ``code``."""
    script = (
        "import json, sys, django\n"
        "django.setup()\n"
        f"{code}\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "emotionhub.settings.test"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "var" / "test-plugins"), *sys.path])
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_web_process_does_not_import_torch():
    """URLs, every installed plugin's spec and capabilities (what dashboards, review and
    request validation read), and the start-up checks: no model code."""
    modules = imported_after(
        "import emotionhub.wsgi, emotionhub.urls\n"
        "from django.core import checks\n"
        "from emotionhub.analyzers import registry\n"
        "assert not checks.run_checks(), checks.run_checks()\n"
        "for name in registry.installed_entry_points():\n"
        "    registry.spec_problems(name)\n"
        "assert 'facial_emotion' in registry.analyzers_producing('faces')\n"
    )
    assert "emotionhub_facial_emotion.analyzer" in modules  # the spec was really read
    assert "torch" not in modules
    assert "transformers" not in modules


def test_worker_tasks_do_not_import_the_rest_layer():
    modules = imported_after(
        "import emotionhub.jobs.tasks, emotionhub.media.tasks, emotionhub.social.tasks\n"
        "import emotionhub.reporting.tasks\n"
    )
    # App set-up loads emotionhub.api.apps and the OpenAPI auth extension (api.schema).
    allowed = {"emotionhub.api", "emotionhub.api.apps", "emotionhub.api.schema"}
    rest = sorted(
        name
        for name in modules - allowed
        if name.startswith(("emotionhub.api", "emotionhub.apibase"))
        or (name.startswith("emotionhub.") and ".api." in f"{name}.")
    )
    assert rest == []
    assert "emotionhub.jobs.tasks" in modules
