"""How sources, runs and posts look over the API, and how a source is validated."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from emotionhub.analyzers import registry
from emotionhub.api.serializers import MediaDetailSerializer
from emotionhub.apibase.errors import ApiError
from emotionhub.jobs.submissions import check_analyzer_settings
from emotionhub.social import schedules
from emotionhub.social.connectors import InvalidConfig, clean_config
from emotionhub.social.models import UNFETCHED_KINDS, Post, Source, SourceKind, SourceRun
from emotionhub.social.summary import summarise

MAX_INTERVAL_SECONDS = 7 * 86400


class SourceRunSerializer(serializers.ModelSerializer):
    error = serializers.SerializerMethodField()

    class Meta:
        model = SourceRun
        fields = [
            "id",
            "source",
            "trigger",
            "status",
            "started_at",
            "finished_at",
            "fetched",
            "new",
            "duplicate",
            "skipped",
            "media_stored",
            "media_skipped",
            "http_status",
            "error",
            "warnings",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_error(self, run: SourceRun) -> dict | None:
        if not run.error_code:
            return None
        return {"code": run.error_code, "message": run.error_message}


class SourceSerializer(serializers.ModelSerializer):
    interval_seconds = serializers.IntegerField(
        write_only=True,
        required=False,
        help_text="Fetch every N seconds (default EMOTIONHUB_SOCIAL_DEFAULT_INTERVAL_SECONDS).",
    )
    schedule = serializers.SerializerMethodField()
    last_run = serializers.SerializerMethodField()
    push_url = serializers.SerializerMethodField()

    class Meta:
        model = Source
        fields = [
            "id",
            "name",
            "kind",
            "config",
            "enabled",
            "analyzers",
            "analyzer_settings",
            "max_posts_per_run",
            "max_media_per_run",
            "interval_seconds",
            "schedule",
            "cursor",
            "next_fetch_allowed_at",
            "consecutive_failures",
            "last_fetched_at",
            "last_run",
            "push_url",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "cursor",
            "next_fetch_allowed_at",
            "consecutive_failures",
            "last_fetched_at",
            "created_at",
        ]

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_schedule(self, source: Source) -> dict | None:
        return schedules.describe(source)

    @extend_schema_field(SourceRunSerializer(allow_null=True))
    def get_last_run(self, source: Source) -> dict | None:
        run = source.runs.order_by("-started_at").first()
        return SourceRunSerializer(run).data if run else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_push_url(self, source: Source) -> str | None:
        if source.kind != SourceKind.WEBHOOK:
            return None
        return f"/api/v1/sources/{source.pk}/push"

    def validate(self, attrs: dict) -> dict:
        kind = attrs.get("kind", self.instance.kind if self.instance else None)
        if self.instance and "kind" in attrs and attrs["kind"] != self.instance.kind:
            raise ApiError("kind_immutable", "A source's kind cannot change.", status=400)
        if "config" in attrs or not self.instance:
            try:
                attrs["config"] = clean_config(kind, attrs.get("config", {}))
            except InvalidConfig as exc:
                raise ApiError(
                    "invalid_source_config",
                    f"config: {exc}.",
                    status=400,
                    details={"kind": kind},
                ) from None
        if "interval_seconds" in attrs:
            low = settings.EMOTIONHUB_SOCIAL_MIN_INTERVAL_SECONDS
            if kind in UNFETCHED_KINDS:
                raise ApiError("invalid_schedule", f"{kind} sources are not scheduled.", status=400)
            if not low <= attrs["interval_seconds"] <= MAX_INTERVAL_SECONDS:
                raise ApiError(
                    "invalid_schedule",
                    f"interval_seconds must be between {low} and {MAX_INTERVAL_SECONDS}.",
                    status=400,
                )
        analyzers = attrs.get("analyzers", self.instance.analyzers if self.instance else [])
        _check_analyzers(analyzers)
        if "analyzer_settings" in attrs:
            runnable = analyzers or registry.enabled_names()  # none named: every enabled one
            check_analyzer_settings(attrs["analyzer_settings"], runnable, what="source")
        return attrs


def _check_analyzers(names: object) -> None:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ApiError("invalid_request", "analyzers must be a list of names.", status=400)
    registry.check_enabled(names)


class PostSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()

    class Meta:
        model = Post
        fields = [
            "id",
            "source",
            "external_id",
            "url",
            "author",
            "text",
            "posted_at",
            "ingested_at",
            "media_role",
            "nsfw",
            "submission",
            "status",
        ]
        read_only_fields = fields

    @extend_schema_field(
        serializers.ChoiceField(
            choices=["queued", "running", "succeeded", "partial", "failed", "cancelled"]
        )
    )
    def get_status(self, post: Post) -> str:
        return summarise(post.media.all())["status"]


class PostDetailSerializer(PostSerializer):
    summary = serializers.SerializerMethodField()
    media = MediaDetailSerializer(many=True, read_only=True)

    class Meta(PostSerializer.Meta):
        fields = [*PostSerializer.Meta.fields, "skipped_media", "summary", "media"]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField())
    def get_summary(self, post: Post) -> dict:
        return summarise(post.media.all())


class PushResultSerializer(serializers.Serializer):
    run = serializers.UUIDField()
    received = serializers.IntegerField()
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    skipped = serializers.IntegerField()
    posts = serializers.ListField(child=serializers.DictField())
