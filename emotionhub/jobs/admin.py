from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone

from emotionhub.accounts.access import OperatorOnlyAdminMixin, TenantScopedAdminMixin
from emotionhub.analyzers import model_cards
from emotionhub.audit.admin_mixins import AuditedAdminMixin
from emotionhub.core.jsonforms import DepthLimitedJSONAdminMixin
from emotionhub.jobs.dispatch import enqueue_after_commit
from emotionhub.jobs.models import (
    FINAL_STATUSES,
    AnalysisJob,
    AnalysisResult,
    JobStatus,
    Submission,
    WorkerHeartbeat,
)


@admin.register(Submission)
class SubmissionAdmin(TenantScopedAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("id", "tenant", "consent", "created_at", "finished_at", "webhook_status")
    list_filter = ("tenant", "consent", "webhook_status")
    readonly_fields = [f.name for f in Submission._meta.fields]


@admin.register(AnalysisJob)
class AnalysisJobAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "analyzer",
        "status",
        "attempts",
        "progress",
        "error_code",
        "quarantined",
        "created_at",
    )
    list_filter = ("status", "quarantined", "analyzer", "tenant")
    search_fields = ("id", "media__id", "error_code", "error_message")
    readonly_fields = [f.name for f in AnalysisJob._meta.fields]
    actions = ["rerun"]

    @admin.action(description="Re-run the selected finished jobs")
    def rerun(self, request, queryset):
        with transaction.atomic():
            jobs = list(queryset.select_for_update().filter(status__in=FINAL_STATUSES))
            for job in jobs:
                job.status, job.attempts, job.quarantined = JobStatus.QUEUED, 0, False
                job.error_code = job.error_message = ""
                job.progress, job.finished_at, job.enqueued_at = 0.0, None, timezone.now()
                job.save()
            # Their submissions are open again, so they finish (and send their webhook)
            # once more when the re-run ends.
            Submission.objects.filter(pk__in={job.submission_id for job in jobs}).update(
                finished_at=None
            )
            enqueue_after_commit(jobs)
        self.message_user(request, f"{len(jobs)} jobs queued again.", messages.SUCCESS)


@admin.register(AnalysisResult)
class AnalysisResultAdmin(TenantScopedAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "analyzer",
        "model_version",
        "model_card",
        "device",
        "duration_ms",
        "created_at",
    )
    list_filter = ("analyzer", "model_version", "tenant")
    readonly_fields = [*(f.name for f in AnalysisResult._meta.fields), "model_card", "consent"]

    @admin.display(description="model card")
    def model_card(self, obj: AnalysisResult) -> str:
        return model_cards.card_link(obj.analyzer)

    @admin.display(description="consent")
    def consent(self, obj: AnalysisResult) -> str:
        submission = obj.media.submission
        return submission.get_consent_display() if submission else "-"


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(OperatorOnlyAdminMixin, DepthLimitedJSONAdminMixin, admin.ModelAdmin):
    """Workers serve every tenant: only operators see them."""

    list_display = ("hostname", "pid", "queues", "cuda_available", "last_seen_at")
