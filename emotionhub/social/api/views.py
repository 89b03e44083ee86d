"""Sources (CRUD, fetch now, runs, secret rotation), posts, and the signed push endpoint."""

from __future__ import annotations

import logging

import django_filters
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from emotionhub import audit
from emotionhub.accounts.principal import principal_for
from emotionhub.accounts.purpose import check_face_emotion_allowed
from emotionhub.analyzers import registry
from emotionhub.api.serializers import media_items_prefetch
from emotionhub.apibase.errors import ApiError, reject_unknown_fields
from emotionhub.apibase.filters import UtcIsoDateTimeFilter
from emotionhub.apibase.viewsets import TenantScopedMixin
from emotionhub.social import push, schedules
from emotionhub.social.api import serializers
from emotionhub.social.deletion import delete_post
from emotionhub.social.models import (
    UNFETCHED_KINDS,
    Post,
    RunTrigger,
    Source,
    SourceKind,
    SourceRun,
    new_push_secret,
)

log = logging.getLogger(__name__)


class SourceFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=SourceKind.choices)

    class Meta:
        model = Source
        fields = ["kind", "enabled"]


class PostFilter(django_filters.FilterSet):
    posted_after = UtcIsoDateTimeFilter(field_name="posted_at", lookup_expr="gte")
    posted_before = UtcIsoDateTimeFilter(field_name="posted_at", lookup_expr="lt")
    ingested_after = UtcIsoDateTimeFilter(field_name="ingested_at", lookup_expr="gte")

    class Meta:
        model = Post
        fields = ["source", "author", "external_id", "media_role", "nsfw"]


class SourceViewSet(
    TenantScopedMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Social sources of the tenant. Fetched kinds are scheduled by beat; webhook sources
    receive signed pushes at ``push_url``."""

    serializer_class = serializers.SourceSerializer
    filterset_class = SourceFilter
    ordering_fields = ["created_at", "name", "last_fetched_at"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return self.tenant_queryset(
            Source.objects.select_related("periodic_task__interval", "periodic_task__crontab")
        )

    def create(self, request, *args, **kwargs):
        reject_unknown_fields(request.data, serializers.SourceSerializer())
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        interval = form.validated_data.pop("interval_seconds", None)
        tenant = principal_for(request).tenant
        _check_purpose(tenant, form.validated_data.get("analyzers") or [])
        with transaction.atomic():
            source = form.save(tenant=tenant)
            schedules.sync_schedule(source, interval)
        body = self.get_serializer(self.get_queryset().get(pk=source.pk)).data
        if source.kind == SourceKind.WEBHOOK:
            body["push_secret"] = source.push_secret  # shown once, like an API key
        return Response(
            body,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/sources/{source.pk}"},
        )

    def update(self, request, *args, **kwargs):
        reject_unknown_fields(request.data, serializers.SourceSerializer())
        source = self.get_object()
        form = self.get_serializer(source, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        interval = form.validated_data.pop("interval_seconds", None)
        if "analyzers" in form.validated_data or form.validated_data.get("enabled"):
            analyzers = form.validated_data.get("analyzers", source.analyzers)
            _check_purpose(source.tenant, analyzers or [])
        extra = {}
        if "config" in form.validated_data and form.validated_data["config"] != source.config:
            extra["cursor"] = {}  # the old cursor belongs to another feed or query
        with transaction.atomic():
            source = form.save(**extra)
            schedules.sync_schedule(source, interval)
        return Response(self.get_serializer(self.get_queryset().get(pk=source.pk)).data)

    @extend_schema(request=None, responses={202: serializers.SourceSerializer})
    @action(detail=True, methods=["post"])
    def fetch(self, request, pk=None):
        """Queue a fetch now; refused while the source is backing off (429 or failures)."""
        from emotionhub.social.tasks import fetch_source

        source = self.get_object()
        if source.kind in UNFETCHED_KINDS:
            raise ApiError(
                "not_fetchable",
                f"{source.kind} sources are pushed or uploaded, not fetched.",
                status=409,
            )
        if not source.enabled:
            raise ApiError("source_disabled", "This source is disabled.", status=409)
        if source.next_fetch_allowed_at and source.next_fetch_allowed_at > timezone.now():
            raise ApiError(
                "source_backing_off",
                "The source is backing off after a rate limit or failures.",
                status=409,
                details={"next_fetch_allowed_at": source.next_fetch_allowed_at.isoformat()},
            )
        try:
            fetch_source.apply_async(args=[str(source.pk), RunTrigger.MANUAL], queue="ingest")
        except Exception:
            log.exception("could not queue a fetch of source %s", source.pk)
            raise ApiError(
                "broker_unavailable", "The task queue is unreachable; try again.", status=503
            ) from None
        return Response(self.get_serializer(source).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=serializers.SourceRunSerializer(many=True))
    @action(detail=True, methods=["get"])
    def runs(self, request, pk=None):
        """The source's fetch and push runs, newest first."""
        source = self.get_object()
        page = self.paginate_queryset(SourceRun.objects.filter(source=source))
        return self.get_paginated_response(serializers.SourceRunSerializer(page, many=True).data)

    @extend_schema(request=None, responses={200: serializers.SourceSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new push secret (the old one stops working at once); shown only in this reply."""
        source = self.get_object()
        if source.kind != SourceKind.WEBHOOK:
            raise ApiError("not_pushable", "Only webhook sources have a push secret.", status=409)
        source.push_secret = new_push_secret()
        source.save(update_fields=["push_secret"])
        return Response({**self.get_serializer(source).data, "push_secret": source.push_secret})


def _check_purpose(tenant, analyzers: list[str]) -> None:
    """403 when the source would run face emotion analyzers its tenant's purpose forbids
    (an empty list runs every enabled analyzer)."""
    check_face_emotion_allowed(tenant, analyzers or registry.enabled_names())


def _post_queryset():
    return Post.objects.prefetch_related(media_items_prefetch())


class PostViewSet(TenantScopedMixin, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet):
    """Ingested posts; the detail gathers the post's media, jobs, results and a summary.
    Deleting a post removes its media, files, jobs, results, facts and review labels."""

    filterset_class = PostFilter
    ordering_fields = ["ingested_at", "posted_at"]

    def perform_destroy(self, instance: Post) -> None:
        post_id = instance.pk  # Model.delete() clears it
        with transaction.atomic():
            deleted = delete_post(instance)
            audit.record(
                audit.Action.DELETE,
                tenant=instance.tenant_id,
                obj_type="post",
                obj_id=post_id,
                count=len(deleted),
                details={"media": deleted[:100], "external_id": instance.external_id[:200]},
                request=self.request,
            )

    def get_serializer_class(self):
        if self.action == "retrieve":
            return serializers.PostDetailSerializer
        return serializers.PostSerializer

    def get_queryset(self):
        return self.tenant_queryset(_post_queryset())


class PushView(APIView):
    """POST posts to a webhook source; authenticated by the HMAC signature, not an API key."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes: list = []

    @extend_schema(
        request={"application/json": dict},
        parameters=[
            OpenApiParameter(push.TIMESTAMP_HEADER, str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter(push.NONCE_HEADER, str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter(push.SIGNATURE_HEADER, str, OpenApiParameter.HEADER, required=True),
        ],
        responses={201: serializers.PushResultSerializer, 200: serializers.PushResultSerializer},
        auth=[],
    )
    def post(self, request, pk=None):
        source = (
            Source.objects.select_related("tenant").filter(pk=pk, kind=SourceKind.WEBHOOK).first()
        )
        if source is None:
            raise ApiError("not_found", "No webhook source with this id.", status=404)
        run, stats = push.receive(source, request.headers, request.body)
        body = {
            "run": run.pk,
            "received": stats.fetched,
            "created": stats.new,
            "duplicates": stats.duplicate,
            "skipped": stats.skipped,
            "posts": [
                {"id": external_id, "status": outcome, "post": post_id}
                for external_id, outcome, post_id in stats.outcomes
            ],
        }
        code = status.HTTP_201_CREATED if stats.new else status.HTTP_200_OK
        return Response(serializers.PushResultSerializer(body).data, status=code)
