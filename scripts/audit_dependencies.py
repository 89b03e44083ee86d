#!/usr/bin/env python
"""pip-audit over the installed environment, refusing to call an audit that did not happen
"clean".

pip-audit skips a package it cannot look up ("Dependency not found on PyPI and could not be
audited") and still prints "No known vulnerabilities found". Where its data sources are
unreachable (PyPI's per-version JSON, api.osv.dev) every package is skipped and that
message is vacuous. This script counts what was actually audited:

* a known vulnerability fails, always;
* packages that could not be audited fail when ``EMOTIONHUB_PIP_AUDIT=require`` and print
  a loud warning otherwise (the default, ``warn``: sandboxes without that data);
* ``EMOTIONHUB_PIP_AUDIT=off`` skips the step, saying so.

Where pip-audit skips a package, PyPI's project JSON (``/pypi/<name>/json``, reachable
where the per-version one is not) still audits it when the installed version is the latest
release: that document lists the latest release's known vulnerabilities. Older pins stay
unaudited and are reported as such.

Local editable packages (emotionhub and its plugins, not on PyPI) are excluded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata

from packaging.version import InvalidVersion, Version

BANNER = "!" * 78
PYPI_PROJECT_JSON = "https://pypi.org/pypi/{name}/json"


def latest_release_vulns(dep: dict) -> list[dict] | None:
    """The known vulnerabilities of ``dep`` from PyPI's project JSON, or None when that
    cannot say (unreachable, or the installed version is not the latest release)."""
    url = PYPI_PROJECT_JSON.format(name=dep["name"])
    try:
        with urllib.request.urlopen(url, timeout=15) as response:  # noqa: S310 - https constant
            project = json.load(response)
        latest = Version(project["info"]["version"])
        installed = Version(dep.get("version") or metadata.version(dep["name"]))
    except (OSError, ValueError, KeyError, InvalidVersion, metadata.PackageNotFoundError):
        return None
    if installed.public != latest.public:  # a local build (+cpu) is the same release
        return None
    return [
        {"id": v.get("id", "?"), "fix_versions": v.get("fixed_in", [])}
        for v in project.get("vulnerabilities", [])
    ]


def audit_skipped_from_project_json(deps: list[dict]) -> None:
    """Fill in ``vulns`` (and clear ``skip_reason``) where the project JSON can audit."""
    skipped = [d for d in deps if d.get("skip_reason")]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for dep, vulns in zip(skipped, pool.map(latest_release_vulns, skipped), strict=True):
            if vulns is not None:
                dep["version"] = dep.get("version") or metadata.version(dep["name"])
                dep["vulns"], dep["skip_reason"] = vulns, None
                dep["audited_by"] = "pypi project json (latest release)"


def main() -> int:
    mode = os.environ.get("EMOTIONHUB_PIP_AUDIT", "warn").strip().lower()
    if mode not in {"warn", "require", "off"}:
        print(f"EMOTIONHUB_PIP_AUDIT must be warn, require or off, not {mode!r}")
        return 2
    if mode == "off":
        print("pip-audit: SKIPPED (EMOTIONHUB_PIP_AUDIT=off); dependencies were not audited.")
        return 0
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip_audit",
                "--skip-editable",
                "--progress-spinner",
                "off",
                "--format",
                "json",
                "--output",
                report.name,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            data = json.load(open(report.name))  # noqa: SIM115 - closed with the tempfile
        except ValueError:
            data = None
    if data is None:
        return unaudited(mode, ["(pip-audit produced no report)"], run.stderr.strip()[-2000:])
    # --skip-editable lists our own packages as skipped: they are not on PyPI at all.
    deps = [
        d for d in data.get("dependencies", []) if "editable" not in (d.get("skip_reason") or "")
    ]
    audit_skipped_from_project_json(deps)
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if d.get("skip_reason")]
    audited = len(deps) - len(skipped)
    for dep in vulnerable:
        ids = ", ".join(v["id"] for v in dep["vulns"])
        fixes = sorted({f for v in dep["vulns"] for f in v.get("fix_versions", [])})
        print(f"VULNERABLE {dep['name']} {dep.get('version')}: {ids}; fixed in {fixes or '?'}")
    print(
        f"pip-audit: {audited} of {len(deps)} packages audited, {len(vulnerable)} vulnerable, "
        f"{len(skipped)} could not be audited."
    )
    if vulnerable:
        return 1
    if skipped:
        names = [f"{d['name']}: {d['skip_reason']}" for d in skipped]
        return unaudited(mode, names, "")
    return 0


def unaudited(mode: str, names: list[str], detail: str) -> int:
    print(BANNER)
    print(f"pip-audit: {len(names)} packages were NOT AUDITED: no vulnerability data could be")
    print("fetched (PyPI per-version JSON and OSV unreachable; the project JSON covers only")
    print("the latest release). Nothing is known about these:")
    for name in names[:30]:
        print(f"  {name}")
    if detail:
        print(detail)
    if mode == "require":
        print("EMOTIONHUB_PIP_AUDIT=require: failing.")
        print(BANNER)
        return 1
    print("EMOTIONHUB_PIP_AUDIT=warn (default): continuing. Set EMOTIONHUB_PIP_AUDIT=require")
    print("where pypi.org or api.osv.dev is reachable, so an unaudited run fails.")
    print(BANNER)
    return 0


if __name__ == "__main__":
    sys.exit(main())
