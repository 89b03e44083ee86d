"""Settings shared by every runtime shape, configured from environment variables."""

import contextlib
from pathlib import Path

import dj_database_url

from emotionhub.core.logs import logging_config
from emotionhub.settings.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("EMOTIONHUB_VAR_DIR", str(BASE_DIR / "var")))

SECRET_KEY = env_str("SECRET_KEY", "insecure-development-key-change-me")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "emotionhub.accounts",
    "emotionhub.analyzers",
    "emotionhub.media",
    "emotionhub.jobs",
    "emotionhub.social",
    "emotionhub.reporting",
    "emotionhub.review",
    "emotionhub.audit",
    "emotionhub.limits",
    "emotionhub.realtime",
    "emotionhub.api",
    "emotionhub.home",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (admin CSS, Swagger UI, Chart.js) from the web process itself, so the
    # production shape serves them without a separate file server (collectstatic first).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "emotionhub.limits.throttling.RateLimitHeadersMiddleware",
]

ROOT_URLCONF = "emotionhub.urls"
# Dashboards and the review queue sign in through the admin's login page.
LOGIN_URL = "admin:login"
WSGI_APPLICATION = "emotionhub.wsgi.application"
# HTTP and the /api/v1/stream WebSocket (emotionhub/asgi.py), served by uvicorn.
ASGI_APPLICATION = "emotionhub.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'emotionhub.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        # A kept connection the server dropped is replaced before use, not failed on.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded shape has the web server, a worker and beat writing one file. WAL lets
    # readers run beside the writer, IMMEDIATE takes the write lock when a transaction
    # starts (a read upgraded to a write mid-transaction fails at once with "database is
    # locked", whatever the timeout) and the busy timeout waits for the lock instead.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": env_float("EMOTIONHUB_SQLITE_BUSY_TIMEOUT_SECONDS", 30.0),
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
# Without collectstatic (development, tests) WhiteNoise finds files in the apps; the
# production settings serve the collected, compressed and hashed copies only.
WHITENOISE_USE_FINDERS = True
# WhiteNoise warns on every start when STATIC_ROOT is missing (no collectstatic yet).
with contextlib.suppress(OSError):
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Content-Security-Policy (django-csp): scripts only from our origin (no inline script:
# the dashboards, review page and Swagger UI load theirs from files); inline style
# attributes stay allowed (bar widths, image aspect ratios); no framing, no plugins.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "media-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

# Uploads larger than this are streamed to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = 100

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "emotionhub.accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["emotionhub.accounts.permissions.HasTenantScope"],
    "DEFAULT_PAGINATION_CLASS": "emotionhub.apibase.pagination.DefaultPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON bodies nested deeper than 64 levels are a 400, not a RecursionError.
    "DEFAULT_PARSER_CLASSES": [
        "emotionhub.apibase.jsonparsing.DepthLimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "emotionhub.apibase.errors.exception_handler",
    # Requests per minute per API key (emotionhub/limits/throttling.py, in CACHES).
    "DEFAULT_THROTTLE_CLASSES": ["emotionhub.limits.throttling.ApiKeyRateThrottle"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "EmotionHub API",
    "DESCRIPTION": (
        "Submit images, videos and text for emotion and sentiment analysis, follow "
        "asynchronous jobs and read results. Authenticate with `Authorization: Api-Key <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "emotionhub.jobs.models.JobStatus",
        "MediaKindEnum": "emotionhub.media.models.MediaKind",
        "SourceRunStatusEnum": "emotionhub.social.models.RunStatus",
        # Submissions and posts share the aggregate status.
        "SubmissionStatusEnum": [
            "queued",
            "running",
            "succeeded",
            "partial",
            "failed",
            "cancelled",
        ],
    },
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ApiKeyAuth": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Api-Key <key>`",
            }
        }
    },
    "SECURITY": [{"ApiKeyAuth": []}],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "emotionhub.apibase.openapi_errors.add_error_responses",
    ],
}

# Rate-limit counters: Redis, shared by every web process, when REDIS_URL (or CACHE_URL)
# is set; otherwise per-process memory (the single-process quick start).
CACHE_URL = env_str("CACHE_URL", env_str("REDIS_URL", ""))
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL.startswith(("redis://", "rediss://", "unix://"))
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- Celery -----------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Broadcast (pidbox) exchanges; kombu's default is ./control in the working directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # A message whose worker died unacknowledged is redelivered after this many seconds;
    # the reconciler usually re-enqueues the job much sooner.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    }
CELERY_BEAT_RECONCILE_SECONDS = env_float("EMOTIONHUB_RECONCILE_SECONDS", 30.0)
# Schedules live in the database (django-celery-beat), so each social source's fetch
# schedule is editable in the admin; the reconciler entry is synced into it at start-up.
CELERY_BEAT_SCHEDULER = env_str(
    "CELERY_BEAT_SCHEDULER", "django_celery_beat.schedulers:DatabaseScheduler"
)

# Reporting facts and brand alerts are refreshed this often (emotionhub/reporting/tasks.py).
CELERY_BEAT_SCHEDULE = {
    "refresh reports and alerts": {
        "task": "emotionhub.reporting.tasks.refresh_reports",
        "schedule": env_float("EMOTIONHUB_REPORTING_SECONDS", 300.0),
    },
    # Tenants' media_retention_days (emotionhub/media/retention.py): files and face data.
    "purge expired media": {
        "task": "emotionhub.media.tasks.purge_expired_media",
        "schedule": env_float("EMOTIONHUB_RETENTION_PURGE_SECONDS", 3600.0),
    },
}

# --- EmotionHub ---------------------------------------------------------------------------
# Analyzer allow list: names of installed plugins (entry point group
# ``emotionhub.analyzers``) that may run; "*" enables every installed analyzer.
EMOTIONHUB_ANALYZERS = env_list("EMOTIONHUB_ANALYZERS", ["*"])
# Per-analyzer settings overrides applied to every job, e.g. {"facial_emotion": {...}}.
EMOTIONHUB_ANALYZER_SETTINGS: dict[str, dict] = {}
# A running job must finish or report progress within this lease, or the reconciler
# hands it to another worker.
EMOTIONHUB_JOB_LEASE_SECONDS = env_int("EMOTIONHUB_JOB_LEASE_SECONDS", 600)
# A queued job whose message has not been picked up for this long is enqueued again.
EMOTIONHUB_QUEUED_REENQUEUE_SECONDS = env_int("EMOTIONHUB_QUEUED_REENQUEUE_SECONDS", 900)
EMOTIONHUB_MAX_ATTEMPTS = env_int("EMOTIONHUB_MAX_ATTEMPTS", 4)
# torch threads per worker process (0 = torch's default, every core): set to
# cores / worker concurrency so worker processes do not oversubscribe the CPU.
EMOTIONHUB_TORCH_THREADS = env_int("EMOTIONHUB_TORCH_THREADS", 0)
# Fill an analyzer's batch with other queued jobs of the same analyzer (GPU throughput).
EMOTIONHUB_MICRO_BATCH = env_bool("EMOTIONHUB_MICRO_BATCH", True)
EMOTIONHUB_RETRY_BASE_SECONDS = env_float("EMOTIONHUB_RETRY_BASE_SECONDS", 10.0)
EMOTIONHUB_RETRY_MAX_SECONDS = env_float("EMOTIONHUB_RETRY_MAX_SECONDS", 600.0)
EMOTIONHUB_WORKER_HEARTBEAT_SECONDS = env_float("EMOTIONHUB_WORKER_HEARTBEAT_SECONDS", 15.0)
# A worker whose heartbeat is older than this is dead: the reconciler re-queues the jobs
# it was running without waiting for their lease (several missed beats, not one).
EMOTIONHUB_WORKER_DEAD_SECONDS = env_float("EMOTIONHUB_WORKER_DEAD_SECONDS", 60.0)
# /health calls an alive worker stalled when it started no task for this long while a job
# has waited as long (a wedged task process behind a main process that still beats).
EMOTIONHUB_WORKER_STALL_SECONDS = env_float("EMOTIONHUB_WORKER_STALL_SECONDS", 120.0)
EMOTIONHUB_MAX_UPLOAD_BYTES = {
    "image": env_int("EMOTIONHUB_MAX_IMAGE_BYTES", 20 * 1024 * 1024),
    "video": env_int("EMOTIONHUB_MAX_VIDEO_BYTES", 200 * 1024 * 1024),
    "text": env_int("EMOTIONHUB_MAX_TEXT_BYTES", 64 * 1024),
}
EMOTIONHUB_MAX_IMAGE_PIXELS = env_int("EMOTIONHUB_MAX_IMAGE_PIXELS", 40_000_000)
# Web-process decoding while validating uploads (emotionhub/media/decoding.py): uploads
# decoded at once per process, and the time a submission's validation may take (waiting
# for a slot included) before a JSON 503 `validation_timeout`, below gunicorn's 30 s.
EMOTIONHUB_WEB_DECODE_SLOTS = env_int("EMOTIONHUB_WEB_DECODE_SLOTS", 2)
EMOTIONHUB_VALIDATION_DEADLINE_SECONDS = env_float("EMOTIONHUB_VALIDATION_DEADLINE_SECONDS", 25.0)
EMOTIONHUB_MAX_VIDEO_SECONDS = env_float("EMOTIONHUB_MAX_VIDEO_SECONDS", 600.0)
EMOTIONHUB_MAX_ITEMS_PER_SUBMISSION = env_int("EMOTIONHUB_MAX_ITEMS_PER_SUBMISSION", 50)
# Bytes allowed after an image's end marker (PNG IEND, JPEG EOI, GIF trailer, WebP RIFF
# end); more is refused as `polyglot_file` (an archive or script riding on a valid image).
EMOTIONHUB_MAX_IMAGE_TRAILING_BYTES = env_int("EMOTIONHUB_MAX_IMAGE_TRAILING_BYTES", 16)
# Back-pressure: POST /submissions answers 503 `overloaded` while more of the tenant's
# analysis jobs than its share are queued (waiting or retrying), or more than the global
# limit in all, counted in the database (0 disables either check). The share keeps one
# tenant's burst from turning the others away; a day's default quota (10,000 items, a few
# analyzers each) queued at once fills a share, not the whole queue.
EMOTIONHUB_MAX_QUEUED_JOBS_PER_TENANT = env_int("EMOTIONHUB_MAX_QUEUED_JOBS_PER_TENANT", 10_000)
EMOTIONHUB_MAX_QUEUED_JOBS = env_int("EMOTIONHUB_MAX_QUEUED_JOBS", 50_000)
EMOTIONHUB_OVERLOADED_RETRY_AFTER_SECONDS = env_int("EMOTIONHUB_OVERLOADED_RETRY_AFTER_SECONDS", 30)
EMOTIONHUB_WEBHOOK_TIMEOUT_SECONDS = env_float("EMOTIONHUB_WEBHOOK_TIMEOUT_SECONDS", 10.0)
EMOTIONHUB_WEBHOOK_MAX_ATTEMPTS = env_int("EMOTIONHUB_WEBHOOK_MAX_ATTEMPTS", 5)
# Webhooks to private, loopback and link-local addresses are refused unless allowed here
# (tests and single-machine setups deliver to localhost).
EMOTIONHUB_WEBHOOK_ALLOW_PRIVATE = env_bool("EMOTIONHUB_WEBHOOK_ALLOW_PRIVATE", False)
# ... or inside one of these networks (e.g. a receiver on 10.0.0.0/8; tests use 127.0.0.1/32).
EMOTIONHUB_WEBHOOK_ALLOWED_NETWORKS = env_list("EMOTIONHUB_WEBHOOK_ALLOWED_NETWORKS", [])

# Prometheus: GET /metrics (emotionhub/api/metrics.py) when enabled; with a token, scrapers
# send "Authorization: Bearer <token>". Workers export their own counters on
# EMOTIONHUB_WORKER_METRICS_PORT (emotionhub/jobs/worker_metrics.py).
EMOTIONHUB_METRICS_ENABLED = env_bool("EMOTIONHUB_METRICS_ENABLED", False)
EMOTIONHUB_METRICS_TOKEN = env_str("EMOTIONHUB_METRICS_TOKEN", "")

# --- Security (docs/security.md) -------------------------------------------------------------
# Per API key: requests per minute and media items per UTC day when the key sets none
# (ApiKey.rate_limit_per_minute, ApiKey.daily_item_quota); 0 means unlimited.
EMOTIONHUB_RATE_LIMIT_PER_MINUTE = env_int("EMOTIONHUB_RATE_LIMIT_PER_MINUTE", 600)
EMOTIONHUB_DAILY_ITEM_QUOTA = env_int("EMOTIONHUB_DAILY_ITEM_QUOTA", 10_000)
# Audit events take the client address from X-Forwarded-For only for this many trusted
# reverse proxies in front of the web process (0: REMOTE_ADDR).
EMOTIONHUB_TRUSTED_PROXY_HOPS = env_int("EMOTIONHUB_TRUSTED_PROXY_HOPS", 0)

# --- Social ingestion (emotionhub/social) ---------------------------------------------------
# Fetches (feeds, APIs, images) refuse private, loopback and link-local addresses, checked
# after DNS resolution on every connection. Only tests open this, to reach local servers.
EMOTIONHUB_FETCH_ALLOW_PRIVATE = env_bool("EMOTIONHUB_FETCH_ALLOW_PRIVATE", False)
EMOTIONHUB_FETCH_ALLOWED_NETWORKS = env_list("EMOTIONHUB_FETCH_ALLOWED_NETWORKS", [])
EMOTIONHUB_FETCH_TIMEOUT_SECONDS = env_float("EMOTIONHUB_FETCH_TIMEOUT_SECONDS", 15.0)
# A submission's URLs are fetched concurrently and must all arrive within this, so a slow
# upstream cannot hold a web worker past gunicorn's timeout (30 s by default).
EMOTIONHUB_URL_FETCH_DEADLINE_SECONDS = env_float("EMOTIONHUB_URL_FETCH_DEADLINE_SECONDS", 20.0)
EMOTIONHUB_FETCH_MAX_REDIRECTS = env_int("EMOTIONHUB_FETCH_MAX_REDIRECTS", 5)
EMOTIONHUB_FETCH_MAX_BYTES = env_int("EMOTIONHUB_FETCH_MAX_BYTES", 5 * 1024 * 1024)
EMOTIONHUB_SOCIAL_MAX_POSTS_PER_RUN = env_int("EMOTIONHUB_SOCIAL_MAX_POSTS_PER_RUN", 100)
EMOTIONHUB_SOCIAL_MAX_MEDIA_PER_RUN = env_int("EMOTIONHUB_SOCIAL_MAX_MEDIA_PER_RUN", 50)
EMOTIONHUB_SOCIAL_MAX_MEDIA_PER_POST = env_int("EMOTIONHUB_SOCIAL_MAX_MEDIA_PER_POST", 4)
EMOTIONHUB_SOCIAL_DEFAULT_INTERVAL_SECONDS = env_int(
    "EMOTIONHUB_SOCIAL_DEFAULT_INTERVAL_SECONDS", 900
)
EMOTIONHUB_SOCIAL_MIN_INTERVAL_SECONDS = env_int("EMOTIONHUB_SOCIAL_MIN_INTERVAL_SECONDS", 60)
# Failed fetches back off exponentially from BASE up to MAX; Retry-After is capped by MAX.
EMOTIONHUB_SOCIAL_BACKOFF_BASE_SECONDS = env_float("EMOTIONHUB_SOCIAL_BACKOFF_BASE_SECONDS", 60.0)
EMOTIONHUB_SOCIAL_BACKOFF_MAX_SECONDS = env_float("EMOTIONHUB_SOCIAL_BACKOFF_MAX_SECONDS", 3600.0)
EMOTIONHUB_SOCIAL_FETCH_LEASE_SECONDS = env_int("EMOTIONHUB_SOCIAL_FETCH_LEASE_SECONDS", 900)
# Pushed posts: signed timestamps older or newer than this are refused.
EMOTIONHUB_PUSH_TOLERANCE_SECONDS = env_int("EMOTIONHUB_PUSH_TOLERANCE_SECONDS", 300)
EMOTIONHUB_PUSH_MAX_POSTS = env_int("EMOTIONHUB_PUSH_MAX_POSTS", 50)
# Feedback imports (POST /api/v1/imports): file size, rows per batch (one checkpoint each),
# and the lease a worker holds while reading; an import whose lease ran out is resumed.
EMOTIONHUB_IMPORT_MAX_BYTES = env_int("EMOTIONHUB_IMPORT_MAX_BYTES", 1024 * 1024 * 1024)
EMOTIONHUB_IMPORT_BATCH_ROWS = env_int("EMOTIONHUB_IMPORT_BATCH_ROWS", 200)
EMOTIONHUB_IMPORT_LEASE_SECONDS = env_int("EMOTIONHUB_IMPORT_LEASE_SECONDS", 300)

# --- Real-time analysis (emotionhub/realtime, docs/architecture.md) -------------------------
# Channel layer: Redis (channels-redis) when REDIS_URL is set, so every ASGI process shares
# groups; in-memory for the single-process quick start. A consumer waits for its next
# channel message with a blocking pop of 5 s (channels-redis's brpop_timeout), and redis-py
# 8 times out any socket read after 5 s by default: that closed every stream idle on the
# channel layer for 5 s with "Timeout reading from" (django/channels_redis#422). So reads
# may take longer than the blocking pop, and a Redis that stopped answering still shows.
CHANNEL_LAYER_SOCKET_TIMEOUT = 30.0
CHANNEL_LAYERS = {
    "default": (
        {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT}]
            },
        }
        if REDIS_URL
        else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    )
}
# Frames of every caller that wait together run through the models as one batch (at most
# MAX_BATCH, and the analyzer's batch size); a batch waits at most WAIT_MS for the frames
# of other streams active in the last second (emotionhub/realtime/engine.py).
EMOTIONHUB_REALTIME_BATCH_WAIT_MS = env_float("EMOTIONHUB_REALTIME_BATCH_WAIT_MS", 25.0)
EMOTIONHUB_REALTIME_MAX_BATCH = env_int("EMOTIONHUB_REALTIME_MAX_BATCH", 16)
# ... and at most as many frames as the measured per-frame time fits in this budget, so
# latency stays bounded by dropping frames on a slow device (0: no budget).
EMOTIONHUB_REALTIME_LATENCY_BUDGET_MS = env_float("EMOTIONHUB_REALTIME_LATENCY_BUDGET_MS", 200.0)
EMOTIONHUB_REALTIME_MAX_FRAME_BYTES = env_int("EMOTIONHUB_REALTIME_MAX_FRAME_BYTES", 4 << 20)
EMOTIONHUB_REALTIME_MAX_FRAME_PIXELS = env_int("EMOTIONHUB_REALTIME_MAX_FRAME_PIXELS", 8_294_400)
# Settings the real-time path applies under the caller's (per analyzer): a webcam face is
# rarely under 64 px, and skipping the smaller pyramid levels makes MTCNN about 3x faster.
EMOTIONHUB_REALTIME_ANALYZER_SETTINGS: dict[str, dict] = {"facial_emotion": {"min_face_px": 64}}
# torch intra-op threads of the real-time batcher (0: torch's default, every core). One
# keeps latency steady on a shared CPU; raise it on a host that serves only real time.
EMOTIONHUB_REALTIME_TORCH_THREADS = env_int("EMOTIONHUB_REALTIME_TORCH_THREADS", 1)
# Load the real-time analyzers when the ASGI app starts instead of on the first frame.
EMOTIONHUB_REALTIME_PRELOAD = env_bool("EMOTIONHUB_REALTIME_PRELOAD", False)
EMOTIONHUB_STREAM_TOKEN_SECONDS = env_int("EMOTIONHUB_STREAM_TOKEN_SECONDS", 60)
# Per-track smoothing of streamed emotions: exponential, with this time constant (s).
EMOTIONHUB_STREAM_SMOOTHING_SECONDS = env_float("EMOTIONHUB_STREAM_SMOOTHING_SECONDS", 0.5)

# Text, or one JSON object per line (EMOTIONHUB_LOG_FORMAT=json); worker lines name their
# job, submission and tenant either way (emotionhub/core/logs.py).
LOGGING = logging_config(env_str("EMOTIONHUB_LOG_FORMAT", "plain"), env_str("LOG_LEVEL", "INFO"))
