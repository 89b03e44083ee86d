#!/usr/bin/env bash
# Quick start on embedded defaults: SQLite and a filesystem broker, no external services.
# Installs EmotionHub with the bundled analyzers, creates a demo API key and runs the web
# server with one worker on http://127.0.0.1:8000 (Ctrl-C stops both).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/venv.sh
source scripts/venv.sh
install_emotionhub ""
# The image_sentiment analyzer reads text in images with Debian's tesseract-ocr.
apt_install_missing tesseract tesseract-ocr "image_sentiment (its jobs fail with ocr_unavailable)" || true

export DJANGO_SETTINGS_MODULE=emotionhub.settings.local
mkdir -p var
python manage.py migrate --no-input -v 0
if [ ! -s var/demo-api-key ]; then
  python manage.py create_api_key demo --name quickstart --scopes read,submit \
    --purpose customer_feedback > var/demo-api-key
fi
cat <<MSG

EmotionHub is starting on http://127.0.0.1:8000 (API docs: /api/v1/docs/).
Your API key is in var/demo-api-key. Try, from another terminal:

  curl -s -H "Authorization: Api-Key \$(cat var/demo-api-key)" \\
       -F file=@docs/examples/astronaut.jpg http://127.0.0.1:8000/api/v1/submissions

MSG
exec python manage.py runlocal 127.0.0.1:8000
