#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, then runs lint,
# Django's checks and pytest against real PostgreSQL, Redis and Celery worker processes
# (started and stopped by scripts/testenv.py). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/venv.sh
source scripts/venv.sh
install_emotionhub "[dev]"
# Plugins that fail on purpose are visible to test runs only (pytest's pythonpath).
rm -rf var/test-plugins
pip install -q --no-deps --no-build-isolation --target var/test-plugins tests/fault_analyzers

# docker-compose validates docker-compose.yml (no Docker engine needed).
if ! command -v docker-compose >/dev/null && [ "$(id -u)" = 0 ]; then
  apt-get install -y -q docker-compose >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q docker-compose >/dev/null; } \
    || echo "warning: could not install docker-compose; the compose test will skip"
fi
# tesseract-ocr is the OCR binary that the image_sentiment analyzer runs.
if ! command -v tesseract >/dev/null && [ "$(id -u)" = 0 ]; then
  apt-get install -y -q tesseract-ocr >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q tesseract-ocr >/dev/null; } \
    || echo "warning: could not install tesseract-ocr; the image_sentiment tests will skip"
fi

# Headless Chromium for the browser tests (driven by Playwright; never `playwright install`).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ]; then
  apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium >/dev/null; } \
    || echo "warning: could not install chromium; the browser tests will skip"
fi

export DJANGO_SETTINGS_MODULE=emotionhub.settings.test PYTHONPATH="$PWD/var/test-plugins"
echo "== ruff"; ruff check . && ruff format --check .
echo "== django checks"
python manage.py check --fail-level WARNING
python manage.py makemigrations --check --dry-run
echo "== pytest"
python scripts/testenv.py -- python -m pytest "$@"
