"""How submissions, media, jobs, results and analyzers look over the API."""

from __future__ import annotations

from collections import Counter

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from emotionhub.apibase.jsonparsing import DepthLimitedJSONField
from emotionhub.jobs.documents import submission_status
from emotionhub.jobs.models import (
    AnalysisJob,
    AnalysisResult,
    Consent,
    JobStatus,
    Submission,
)
from emotionhub.media.models import Media


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class PartialResultSerializer(serializers.Serializer):
    seconds_done = serializers.FloatField(help_text="Seconds of the video analysed so far.")
    frames_analyzed = serializers.IntegerField()
    timeline = serializers.ListField(
        child=serializers.DictField(), help_text="The result's timeline rows, so far."
    )


class JobSerializer(serializers.ModelSerializer):
    error = serializers.SerializerMethodField()
    # named like the attribute BaseSerializer.partial: DRF takes declared fields off the class
    partial = serializers.SerializerMethodField(  # type: ignore[assignment]
        help_text="While the job runs: what it knows so far (a video's timeline up to "
        "`seconds_done`); null otherwise."
    )

    class Meta:
        model = AnalysisJob
        fields = [
            "id",
            "media",
            "submission",
            "analyzer",
            "analyzer_version",
            "settings",
            "status",
            "progress",
            "partial",
            "attempts",
            "max_attempts",
            "error",
            "quarantined",
            "created_at",
            "started_at",
            "next_attempt_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ErrorSerializer(allow_null=True))
    def get_error(self, job: AnalysisJob) -> dict | None:
        if not job.error_code:
            return None
        return {"code": job.error_code, "message": job.error_message}

    @extend_schema_field(PartialResultSerializer(allow_null=True))
    def get_partial(self, job: AnalysisJob) -> dict | None:
        if job.status != JobStatus.RUNNING:
            return None
        return job.partial_result


class ResultSerializer(serializers.ModelSerializer):
    consent = serializers.SerializerMethodField()

    class Meta:
        model = AnalysisResult
        fields = [
            "id",
            "media",
            "consent",
            "job",
            "analyzer",
            "analyzer_version",
            "model_version",
            "weights_sha256",
            "payload",
            "device",
            "duration_ms",
            "batch_size",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=Consent.choices, allow_null=True))
    def get_consent(self, result: AnalysisResult) -> str | None:
        """The consent stated with the submission that brought the media."""
        submission = result.media.submission
        return submission.consent if submission else None


class MediaSerializer(serializers.ModelSerializer):
    class Meta:
        model = Media
        fields = [
            "id",
            "kind",
            "mime",
            "size",
            "sha256",
            "width",
            "height",
            "duration_seconds",
            "original_name",
            "text",
            "submission",
            "source_post",
            "created_at",
        ]
        read_only_fields = fields


class MediaDetailSerializer(MediaSerializer):
    jobs = JobSerializer(many=True, read_only=True)
    results = ResultSerializer(many=True, read_only=True)

    class Meta(MediaSerializer.Meta):
        fields = [*MediaSerializer.Meta.fields, "jobs", "results"]
        read_only_fields = fields


def media_items_prefetch() -> Prefetch:
    """A submission's or a post's media, oldest first, with what MediaDetailSerializer
    reads of each (jobs and results in analyzer order), in three queries."""
    return Prefetch(
        "media",
        queryset=Media.objects.order_by("created_at", "id").prefetch_related(
            Prefetch("jobs", queryset=AnalysisJob.objects.order_by("analyzer")),
            Prefetch("results", queryset=AnalysisResult.objects.order_by("analyzer")),
        ),
    )


class WebhookStateSerializer(serializers.Serializer):
    url = serializers.CharField()
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    last_error = serializers.CharField()


class SubmissionSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    job_counts = serializers.SerializerMethodField()
    webhook = serializers.SerializerMethodField()
    items = MediaDetailSerializer(source="media", many=True, read_only=True)

    class Meta:
        model = Submission
        fields = [
            "id",
            "status",
            "progress",
            "job_counts",
            "idempotency_key",
            "consent",
            "created_at",
            "finished_at",
            "webhook",
            "items",
        ]
        read_only_fields = fields

    def _jobs(self, submission: Submission) -> list[AnalysisJob]:
        return [job for media in submission.media.all() for job in media.jobs.all()]

    @extend_schema_field(
        serializers.ChoiceField(
            choices=["queued", "running", "succeeded", "partial", "failed", "cancelled"]
        )
    )
    def get_status(self, submission: Submission) -> str:
        return submission_status([job.status for job in self._jobs(submission)])

    def get_progress(self, submission: Submission) -> float:
        jobs = self._jobs(submission)
        done = sum(1.0 if job.finished_at else job.progress for job in jobs)
        return round(done / len(jobs), 4) if jobs else 1.0

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_job_counts(self, submission: Submission) -> dict[str, int]:
        return dict(Counter(job.status for job in self._jobs(submission)))

    @extend_schema_field(WebhookStateSerializer(allow_null=True))
    def get_webhook(self, submission: Submission) -> dict | None:
        if not submission.webhook_url:
            return None
        return {
            "url": submission.webhook_url,
            "status": submission.webhook_status,
            "attempts": submission.webhook_attempts,
            "last_error": submission.webhook_last_error,
        }


class CommaSeparatedListField(serializers.ListField):
    """Accepts ``a,b``, repeated form fields, or a JSON list."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = [data]
        elif not isinstance(data, list | tuple):  # a JSON number, bool or object
            self.fail("not_a_list", input_type=type(data).__name__)
        parts = [part.strip() for value in data for part in str(value).split(",")]
        return super().to_internal_value([part for part in parts if part])


class SubmissionCreateSerializer(serializers.Serializer):
    file = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        required=False,
        default=list,
        help_text="One or more images, videos or UTF-8 text files (repeat the field).",
    )
    urls = serializers.ListField(
        child=serializers.CharField(max_length=2000),
        required=False,
        default=list,
        help_text="http(s) URLs of media to fetch and analyse (repeat the field); public "
        "addresses only, validated like uploads.",
    )
    text = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        default=list,
        help_text="One or more texts to analyse (repeat the field).",
    )
    analyzers = CommaSeparatedListField(
        child=serializers.CharField(),
        required=False,
        allow_empty=True,
        help_text="Analyzer names; default: every enabled analyzer that accepts each item.",
    )
    analyzer_settings = DepthLimitedJSONField(
        required=False,
        default=dict,
        help_text='Per-analyzer options, e.g. {"facial_emotion": {"detector": "haar"}}.',
    )
    caption = serializers.CharField(required=False, allow_blank=True, default="", max_length=10000)
    consent = serializers.ChoiceField(
        choices=Consent.choices,
        required=False,
        default=Consent.UNKNOWN,
        help_text="Consent of the people shown: given, not_required, or unknown (default). "
        "Tenants with require_consent refuse images and videos unless given/not_required.",
    )
    webhook_url = serializers.URLField(
        required=False, allow_blank=True, default="", max_length=1000
    )


class AnalyzerSpecSerializer(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.CharField()
    description = serializers.CharField()
    media_kinds = serializers.ListField(child=serializers.CharField())
    device = serializers.CharField()
    max_batch_size = serializers.IntegerField()
    queue = serializers.CharField()
    model_version = serializers.CharField()
    weights_sha256 = serializers.CharField()
    model_card = serializers.CharField()
    model_card_url = serializers.CharField(
        allow_null=True, help_text="Where to read the model card (null when none is shipped)."
    )
    infers_emotion_from_faces = serializers.BooleanField(
        help_text="Reads emotions off faces: refused for prohibited or undeclared purposes."
    )
    realtime = serializers.BooleanField(
        help_text="Runs on POST /analyze and the /stream WebSocket (decoded frames, not stored)."
    )
    licence = serializers.CharField()
    produces = serializers.ListField(
        child=serializers.CharField(),
        help_text="Capabilities (faces, face_boxes, sentiment, emotion): payload fragments "
        "every result carries; see emotionhub/analyzers/contract.py.",
    )
    contract_version = serializers.IntegerField(
        allow_null=True, help_text="The analyzer contract the plugin was written for."
    )
    result_schema = serializers.DictField()
    settings_schema = serializers.DictField()
