"""Postgres is the source of truth for every job; Celery messages carry ids only."""

import uuid

from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
FINAL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class WebhookStatus(models.TextChoices):
    NONE = "none"
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class Consent(models.TextChoices):
    """What the submitter says about the consent of the people in the media."""

    UNKNOWN = "unknown", "Not stated"
    GIVEN = "given", "The people shown consented"
    NOT_REQUIRED = "not_required", "Not required (e.g. public posts, no identifiable people)"


class Submission(models.Model):
    """One API request: a batch of media, the analyzers chosen and an optional webhook."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(
        "accounts.Tenant", on_delete=models.CASCADE, related_name="submissions"
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # NULL, not "", when absent: the unique constraint applies only to real keys.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    # Hash of what was asked, so a reused Idempotency-Key with other content is refused.
    fingerprint = models.CharField(max_length=64)
    consent = models.CharField(max_length=16, choices=Consent.choices, default=Consent.UNKNOWN)
    webhook_url = models.URLField(max_length=1000, blank=True)
    webhook_status = models.CharField(
        max_length=16, choices=WebhookStatus.choices, default=WebhookStatus.NONE
    )
    webhook_attempts = models.PositiveIntegerField(default=0)
    webhook_last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="submission_unique_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        return f"submission {self.id}"


class AnalysisJob(models.Model):
    """One media item and one analyzer."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="jobs")
    media = models.ForeignKey("media.Media", on_delete=models.CASCADE, related_name="jobs")
    submission = models.ForeignKey(
        Submission, on_delete=models.CASCADE, related_name="jobs", null=True, blank=True
    )
    analyzer = models.CharField(max_length=100)
    analyzer_version = models.CharField(max_length=50)
    settings = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField()
    progress = models.FloatField(default=0.0)
    # What a running analysis knows so far (a video's timeline up to the seconds done);
    # cleared when the job is claimed again and when its result is stored.
    partial_result = models.JSONField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    # Failed after using up its attempts: a poison input or a broken plugin, re-runnable.
    quarantined = models.BooleanField(default=False)
    worker = models.CharField(max_length=255, blank=True)
    # The process that claimed the running attempt: a pool process killed while its worker
    # lives on is missing from the worker's heartbeat (``task_pids``), and so is its job.
    worker_pid = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["media", "analyzer"], name="job_unique_media_analyzer")
        ]
        indexes = [
            models.Index(fields=["status", "lease_expires_at"]),
            models.Index(fields=["tenant", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.analyzer} on {self.media_id} ({self.status})"


class AnalysisResult(models.Model):
    """What an analyzer said about a media item, unique per model version."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="results")
    media = models.ForeignKey("media.Media", on_delete=models.CASCADE, related_name="results")
    job = models.ForeignKey(
        AnalysisJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="results"
    )
    analyzer = models.CharField(max_length=100)
    analyzer_version = models.CharField(max_length=50)
    model_version = models.CharField(max_length=100, blank=True)
    weights_sha256 = models.CharField(max_length=64, blank=True)
    payload = models.JSONField()
    device = models.CharField(max_length=16)
    duration_ms = models.FloatField()
    batch_size = models.PositiveIntegerField(
        default=1, help_text="Items the analyzer ran in the same call (from one or more jobs)."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["media", "analyzer", "model_version"], name="result_unique_per_model"
            )
        ]
        indexes = [models.Index(fields=["tenant", "analyzer", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.analyzer} {self.model_version} on {self.media_id}"


class WorkerHeartbeat(models.Model):
    """Written by every worker process so the health endpoint works with any broker."""

    hostname = models.CharField(max_length=255, unique=True)
    pid = models.PositiveIntegerField()
    queues = models.JSONField(default=list)
    cuda_available = models.BooleanField(null=True)
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(db_index=True)
    # Written by the process that runs a task when it starts one: a worker whose main
    # process beats but whose task process is wedged shows as alive yet taking no work.
    last_task_at = models.DateTimeField(null=True, blank=True)
    last_task_pid = models.PositiveIntegerField(null=True, blank=True)
    # The worker's processes that run tasks (its pool, or itself), listed at
    # ``last_seen_at``; empty when the worker cannot say.
    task_pids = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return self.hostname
