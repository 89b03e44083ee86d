#!/usr/bin/env bash
# Quick start on embedded defaults: SQLite and a filesystem broker, no external services.
# Installs EmotionHub with the bundled analyzers, creates a demo tenant with an API key and
# an admin user, and runs the web server with one worker (Ctrl-C or SIGTERM stops both).
#
#   scripts/quickstart.sh [--host ADDRESS] [--port PORT] [--skip-install]
#
# --skip-install uses the Python environment as it is (an active venv, or .venv).
# State lives in $EMOTIONHUB_VAR_DIR (default var/).
set -euo pipefail
cd "$(dirname "$0")/.."

HOST=${EMOTIONHUB_HOST:-127.0.0.1}
PORT=${EMOTIONHUB_PORT:-8000}
INSTALL=1
usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --host) HOST=${2:?--host needs an address}; shift 2 ;;
    --host=*) HOST=${1#*=}; shift ;;
    --port) PORT=${2:?--port needs a number}; shift 2 ;;
    --port=*) PORT=${1#*=}; shift ;;
    --skip-install) INSTALL=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "quickstart.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$PORT" in ''|*[!0-9]*) echo "quickstart.sh: --port must be a number, not '$PORT'" >&2; exit 2 ;; esac

if [ "$INSTALL" = 1 ]; then
  # shellcheck source=scripts/venv.sh
  source scripts/venv.sh
  install_emotionhub ""
  # The demo analyzers (example, text_length) belong to the tests; older quick starts
  # installed them here, where they add jobs to every item and clutter every list.
  if pip show -q emotionhub-dummy-analyzer >/dev/null 2>&1; then
    pip uninstall -y -q emotionhub-dummy-analyzer
  fi
  # The image_sentiment analyzer reads text in images with Debian's tesseract-ocr.
  apt_install_missing tesseract tesseract-ocr "image_sentiment (its jobs fail with ocr_unavailable)" || true
elif [ -z "${VIRTUAL_ENV:-}" ] && [ -x .venv/bin/python ]; then
  # shellcheck disable=SC1091
  source .venv/bin/activate
fi

export DJANGO_SETTINGS_MODULE=emotionhub.settings.local HF_HUB_OFFLINE=1
VAR=${EMOTIONHUB_VAR_DIR:-var}
mkdir -p "$VAR"
python manage.py migrate --no-input -v 0
if [ ! -s "$VAR/demo-api-key" ]; then
  python manage.py create_api_key demo --name quickstart --scopes read,submit \
    --purpose customer_feedback > "$VAR/demo-api-key"
fi
# An admin who is a member of the demo tenant with every scope: signs in to the admin,
# the review queue and the dashboards. The password is generated once and kept here.
ADMIN_NOTE=$(python manage.py create_tenant_admin demo --username admin \
  --password-file "$VAR/admin-password")
URL="http://$HOST:$PORT"
case "$HOST" in *:*) URL="http://[$HOST]:$PORT" ;; esac
cat <<MSG

EmotionHub is starting on $URL/ (the start page links everything below).

  Sign in:   $URL/admin/  $ADMIN_NOTE
  API docs:  $URL/api/v1/docs/      Dashboards: $URL/reporting/
  Review:    $URL/admin/review/reviewitem/      Real-time demo: $URL/realtime/
  API key:   in $VAR/demo-api-key. Try, from another terminal:

  curl -s -H "Authorization: Api-Key \$(cat $VAR/demo-api-key)" \\
       -F file=@docs/examples/astronaut.jpg $URL/api/v1/submissions

MSG
exec python manage.py runlocal --host "$HOST" --port "$PORT"
