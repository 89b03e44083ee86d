"""Production: PostgreSQL + Redis, secrets only from the environment, hardened HTTP.

Start-up fails (ImproperlyConfigured) without SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL and
REDIS_URL, rather than running on the development defaults of ``base``.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from emotionhub.settings.base import *  # noqa: F403
from emotionhub.settings.env import env_bool, env_int

REQUIRED = ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL")
_missing = [name for name in REQUIRED if not os.environ.get(name, "").strip()]
if _missing:
    raise ImproperlyConfigured(
        f"Production settings need {', '.join(_missing)} in the environment "
        "(see docs/security.md, deploy checklist)."
    )
if len(os.environ["SECRET_KEY"]) < 50 or os.environ["SECRET_KEY"].startswith("django-insecure"):
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 random characters.")

SECRET_KEY = os.environ["SECRET_KEY"]
DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# `collectstatic` (docker-compose's web command) writes the files and gzip/brotli copies;
# WhiteNoise serves them from the web process. Not the manifest (hashed names) storage:
# its post-processing fails collectstatic on Chart.js's missing source map.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False
