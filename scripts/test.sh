#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, then runs lint,
# Django's checks and pytest against real PostgreSQL, Redis and Celery worker processes
# (started and stopped by scripts/testenv.py). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/venv.sh
source scripts/venv.sh
install_emotionhub "[dev]"
# Demo analyzers, plugins that fail on purpose and a third-party one: test runs only.
install_test_plugins

# System programs some tests need (Debian packages; see apt_install_missing in venv.sh):
apt_install_missing docker-compose docker-compose "the docker-compose.yml check"
apt_install_missing tesseract tesseract-ocr "image_sentiment (OCR)"
# Headless Chromium for the browser tests (driven by Playwright; never `playwright install`).
apt_install_missing chromium chromium "the browser tests"

export DJANGO_SETTINGS_MODULE=emotionhub.settings.test PYTHONPATH="$PWD/var/test-plugins"
echo "== ruff"; ruff check . && ruff format --check .
# The dependency rule of docs/architecture.md: [tool.importlinter] in pyproject.toml.
echo "== import-linter"; lint-imports
echo "== mypy"; mypy
echo "== django checks"
python manage.py check --fail-level WARNING
python manage.py makemigrations --check --dry-run
# Fails on a known vulnerability; packages it could not audit (no PyPI/OSV data) are a loud
# warning, or a failure with EMOTIONHUB_PIP_AUDIT=require (docs/security.md).
echo "== pip-audit"
python scripts/audit_dependencies.py
echo "== pytest"
python scripts/testenv.py -- python -m pytest "$@"
