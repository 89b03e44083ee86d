"""Where posts come from, the posts themselves, and a record of every fetch.

A source's schedule is a django-celery-beat ``PeriodicTask`` (editable in the admin); the
source keeps the connector's cursor and the back-off state that decides whether a beat
tick may fetch at all.
"""

from __future__ import annotations

import secrets
import uuid

from django.db import models


class SourceKind(models.TextChoices):
    RSS = "rss", "RSS/Atom feed"
    MASTODON = "mastodon", "Mastodon timeline"
    REDDIT = "reddit", "Reddit subreddit"
    BLUESKY = "bluesky", "Bluesky search"
    WEBHOOK = "webhook", "Pushed by webhook"
    IMPORT = "import", "Imported file (surveys, reviews, tickets)"


# Kinds that are never fetched on a schedule: their posts are pushed or uploaded.
UNFETCHED_KINDS = frozenset({SourceKind.WEBHOOK, SourceKind.IMPORT})


def new_push_secret() -> str:
    return secrets.token_hex(32)


class Source(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="sources")
    kind = models.CharField(max_length=16, choices=SourceKind.choices)
    name = models.CharField(max_length=200)
    config = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    # Analyzers run on each post's text and images; empty: every enabled analyzer that
    # accepts the item's kind (as for an API submission without ``analyzers``).
    analyzers = models.JSONField(default=list, blank=True)
    analyzer_settings = models.JSONField(default=dict, blank=True)
    max_posts_per_run = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: EMOTIONHUB_SOCIAL_MAX_POSTS_PER_RUN."
    )
    max_media_per_run = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: EMOTIONHUB_SOCIAL_MAX_MEDIA_PER_RUN."
    )
    # HMAC-SHA256 key that signs pushes to a webhook source.
    push_secret = models.CharField(max_length=64, default=new_push_secret, editable=False)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="social_source",
        help_text="The beat schedule of this source's fetches.",
    )
    # Connector state between runs (since ids, after cursors, ETags).
    cursor = models.JSONField(default=dict, blank=True)
    # Set by HTTP 429 / Retry-After and by failures; beat ticks before it do nothing.
    next_fetch_allowed_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # A running fetch holds this lease, so two ticks never fetch the same source at once.
    fetch_lease_until = models.DateTimeField(null=True, blank=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class MediaRole(models.TextChoices):
    """What a post's images are: the author's own pictures, or a link card's thumbnail."""

    PHOTO = "photo"
    PREVIEW = "preview"


class Post(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="posts")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="posts")
    external_id = models.CharField(max_length=255)
    url = models.URLField(max_length=1000, blank=True)
    author = models.CharField(max_length=255, blank=True)
    text = models.TextField(blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    ingested_at = models.DateTimeField(auto_now_add=True)
    # The post's text and images go through the normal job path as one submission.
    submission = models.OneToOneField(
        "jobs.Submission",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="post",
    )
    run = models.ForeignKey(
        "social.SourceRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="posts"
    )
    # Media that were offered but not stored, with the reason (too large, not an image…).
    skipped_media = models.JSONField(default=list, blank=True)
    media_role = models.CharField(
        max_length=16,
        choices=MediaRole.choices,
        blank=True,
        help_text="preview: the images are the upstream's thumbnail of a link or a video.",
    )
    nsfw = models.BooleanField(default=False, help_text="The upstream marks it NSFW / 18+.")
    # Imported feedback's other mapped columns: rating, channel, language.
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-ingested_at"]
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="post_unique_per_source")
        ]
        indexes = [models.Index(fields=["tenant", "-ingested_at"])]

    def __str__(self) -> str:
        return f"{self.source}: {self.external_id}"


class RunStatus(models.TextChoices):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    PUSH = "push"
    IMPORT = "import"


class SourceRun(models.Model):
    """One fetch (or one push) of a source: what came in and what went wrong."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=16, choices=RunTrigger.choices)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    fetched = models.PositiveIntegerField(default=0, help_text="Items the upstream returned.")
    new = models.PositiveIntegerField(default=0)
    duplicate = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(
        default=0, help_text="Items over the per-run cap, empty or invalid."
    )
    media_stored = models.PositiveIntegerField(default=0)
    media_skipped = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    http_status = models.PositiveIntegerField(null=True, blank=True)
    # Per-item problems that did not fail the run (first few), e.g. a refused image.
    warnings = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["source", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.source} run {self.started_at:%Y-%m-%d %H:%M:%S} ({self.status})"


class PushNonce(models.Model):
    """Nonces of accepted pushes inside the timestamp window: a replay is refused."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    nonce = models.CharField(max_length=128)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "nonce"], name="push_nonce_unique")
        ]

    def __str__(self) -> str:
        return self.nonce


class ImportStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ImportFormat(models.TextChoices):
    CSV = "csv"
    JSONL = "jsonl", "JSON Lines"


def import_upload_path(instance: FeedbackImport, filename: str) -> str:
    return f"imports/{instance.tenant_id}/{instance.pk}.{instance.format}"


class FeedbackImport(models.Model):
    """One uploaded file of customer feedback, read in batches by the ``ingest`` worker.

    ``rows_read`` is the checkpoint: a worker that dies resumes after the last finished
    batch, and rows of the unfinished one are recognised by their external id (or row
    hash) through the posts' unique constraint, so nothing is created twice.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="imports")
    run = models.OneToOneField(
        SourceRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="feedback_import"
    )
    file = models.FileField(upload_to=import_upload_path, max_length=300)
    original_name = models.CharField(max_length=255, blank=True)
    format = models.CharField(max_length=8, choices=ImportFormat.choices)
    mapping = models.JSONField(help_text="Field -> column (CSV header or JSON key).")
    size = models.PositiveBigIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    rows_read = models.PositiveBigIntegerField(default=0)
    rows_created = models.PositiveBigIntegerField(default=0)
    rows_skipped = models.PositiveBigIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"import {self.original_name or self.pk} ({self.status})"


class ImportSkip(models.Model):
    """A row the import did not turn into a post, and why."""

    feedback_import = models.ForeignKey(
        FeedbackImport, on_delete=models.CASCADE, related_name="skips"
    )
    row = models.PositiveBigIntegerField(help_text="1-based data row (header excluded).")
    code = models.CharField(max_length=64)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["row"]
        constraints = [
            models.UniqueConstraint(fields=["feedback_import", "row"], name="import_skip_row")
        ]

    def __str__(self) -> str:
        return f"row {self.row}: {self.code}"
