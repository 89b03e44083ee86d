"""The wheel installs whole: built from this tree, installed into a fresh virtualenv, it
serves a dashboard and its vendored Chart.js without the source tree, and its console
script runs.

Offline and quick: the wheel is built without build isolation and installed with
``--no-deps``; the fresh venv reaches the already installed dependencies through a
``.pth`` line naming this interpreter's site-packages, written after the install (a .pth
line adds a path but runs none of that directory's .pth files, so the editable install
of the tree stays out of the imports).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHART_JS = "reporting/vendor/chartjs/chart.umd.min.js"

SCRIPT = r"""
import json, os, sys
from pathlib import Path
import django

site = Path(sys.argv[1])
import emotionhub
assert Path(emotionhub.__file__).is_relative_to(site), emotionhub.__file__
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("collectstatic", interactive=False, verbosity=0)

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.template.loader import get_template
from django.test import Client
from django.test.utils import setup_test_environment
from emotionhub.accounts.models import Tenant, TenantMembership
from emotionhub.reporting.models import Brand

setup_test_environment()
tenant = Tenant.objects.create(name="Packaged", slug="packaged")
user = User.objects.create_user("analyst", password="pw", is_staff=True)
TenantMembership.objects.create(user=user, tenant=tenant, scopes=["read"])
brand = Brand.objects.create(tenant=tenant, name="Everything")
client = Client()
client.force_login(user)
page = client.get(f"/reporting/brands/{brand.pk}/")
print(json.dumps({
    "status": page.status_code,
    "templates": [t.origin.name for t in page.templates if t.origin and t.origin.name],
    "has_canvas": "<canvas" in page.content.decode(),
    "chart_js_source": finders.find(sys.argv[2]),
    "chart_js_collected": str(Path(settings.STATIC_ROOT) / sys.argv[2]),
    "dashboard": get_template("reporting/dashboard.html").origin.name,
}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(venv, its site-packages) with the freshly built wheel installed."""
    work = tmp_path_factory.mktemp("packaging")
    # Built from a copy of what the wheel is made of, so no build/ or egg-info lands in the
    # tree (whose root is on PYTHONPATH in test runs).
    source = work / "source"
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info")
    for name in ("emotionhub", "ml"):
        shutil.copytree(ROOT / name, source / name, ignore=junk)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            str(source),
            "-w",
            str(work / "dist"),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    (wheel,) = (work / "dist").glob("emotionhub-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--isolated",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
        env=clean_env(work),
    )
    # After the install: pip would otherwise find the tree's editable install through it.
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv, site


def clean_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(
        DJANGO_SETTINGS_MODULE="emotionhub.settings.local",
        EMOTIONHUB_VAR_DIR=str(tmp / "var"),
        STATIC_ROOT=str(tmp / "static"),
        MEDIA_ROOT=str(tmp / "media"),
        DATABASE_URL=f"sqlite:///{tmp / 'packaged.sqlite3'}",
        # A web-only install: the plugins' editable dist-infos are visible through the .pth
        # line but their code is not, so no analyzer is enabled.
        EMOTIONHUB_ANALYZERS="",
    )
    return env


def test_the_installed_wheel_serves_a_dashboard_and_chart_js(installed, tmp_path):
    import json

    venv, site = installed
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", SCRIPT, str(site), CHART_JS],
        cwd=tmp_path,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == 200 and report["has_canvas"]
    assert Path(report["dashboard"]).is_relative_to(site)
    assert any(Path(name).is_relative_to(site) for name in report["templates"])
    assert Path(report["chart_js_source"]).is_relative_to(site)
    shipped = (ROOT / "emotionhub" / "reporting" / "static" / CHART_JS).read_bytes()
    assert Path(report["chart_js_collected"]).read_bytes() == shipped


def test_the_console_script_is_installed_and_runs(installed, tmp_path):
    venv, _ = installed
    script = venv / "bin" / "emotionhub"
    env = clean_env(tmp_path)
    env.pop("EMOTIONHUB_API_KEY", None)
    helped = subprocess.run([str(script), "--help"], env=env, capture_output=True, text=True)
    assert helped.returncode == 0
    assert all(command in helped.stdout for command in ("submit", "results", "export"))
    refused = subprocess.run([str(script), "results", "x"], env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "EMOTIONHUB_API_KEY" in refused.stderr
