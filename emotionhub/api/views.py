"""Thin viewsets: scoping to the caller's tenant, and delegation to the services."""

from __future__ import annotations

from django.db import transaction
from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from emotionhub.accounts.principal import principal_for
from emotionhub.analyzers import model_cards, registry
from emotionhub.api import filters, serializers
from emotionhub.apibase.errors import ApiError, reject_unknown_fields
from emotionhub.apibase.jsonparsing import DepthLimitedJSONParser
from emotionhub.apibase.viewsets import TenantScopedMixin
from emotionhub.jobs import lifecycle
from emotionhub.jobs.models import AnalysisJob, AnalysisResult, Submission
from emotionhub.jobs.submissions import SubmissionRequest, check_capacity, create_submission
from emotionhub.media.deletion import delete_media
from emotionhub.media.models import Media

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Retrying with the same key returns the first submission instead of a copy.",
)


def _submission_queryset():
    return Submission.objects.prefetch_related(serializers.media_items_prefetch())


class SubmissionViewSet(
    TenantScopedMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Batches of media sent for analysis, with per-item jobs and results."""

    serializer_class = serializers.SubmissionSerializer
    filterset_class = filters.SubmissionFilter
    ordering_fields = ["created_at", "finished_at"]
    parser_classes = [MultiPartParser, FormParser, DepthLimitedJSONParser]

    def get_queryset(self):
        return self.tenant_queryset(_submission_queryset())

    @extend_schema(
        request={
            "multipart/form-data": serializers.SubmissionCreateSerializer,
            "application/json": serializers.SubmissionCreateSerializer,
        },
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            202: serializers.SubmissionSerializer,
            200: OpenApiResponse(serializers.SubmissionSerializer, "Idempotent replay."),
        },
    )
    def create(self, request, *args, **kwargs):
        reject_unknown_fields(request.data, serializers.SubmissionCreateSerializer())
        form = serializers.SubmissionCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        key = request.headers.get("Idempotency-Key")
        if key is not None and not (0 < len(key) <= 255 and key.isprintable()):
            raise ApiError(
                "invalid_idempotency_key",
                "Idempotency-Key must be 1-255 printable characters.",
                status=400,
            )
        principal = principal_for(request)
        check_capacity(principal.tenant.pk if principal else None)
        data = form.validated_data
        submission, created = create_submission(
            principal_for(request),
            SubmissionRequest(
                files=data["file"],
                texts=data["text"],
                urls=data["urls"],
                analyzers=data.get("analyzers") or None,
                analyzer_settings=data["analyzer_settings"],
                caption=data["caption"],
                webhook_url=data["webhook_url"],
                idempotency_key=key,
                consent=data["consent"],
            ),
        )
        body = serializers.SubmissionSerializer(self.get_queryset().get(pk=submission.pk)).data
        headers = {"Location": f"/api/v1/submissions/{submission.pk}"}
        if not created:
            headers["Idempotent-Replayed"] = "true"
        code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        return Response(body, status=code, headers=headers)


class MediaViewSet(
    TenantScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Stored media with their jobs and results. Deleting removes the file and results."""

    filterset_class = filters.MediaFilter
    ordering_fields = ["created_at", "size"]

    def get_serializer_class(self):
        if self.action == "retrieve":
            return serializers.MediaDetailSerializer
        return serializers.MediaSerializer

    def get_queryset(self):
        queryset = Media.objects.all()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("jobs", "results")
        return self.tenant_queryset(queryset)

    def perform_destroy(self, instance: Media) -> None:
        # The derived rows go by cascade and the file after commit (media/signals.py).
        with transaction.atomic():
            self.audit_deletion(instance)
            delete_media(Media.objects.filter(pk=instance.pk))


class JobViewSet(TenantScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Analysis jobs: status, progress, attempts and errors."""

    serializer_class = serializers.JobSerializer
    filterset_class = filters.JobFilter
    ordering_fields = ["created_at", "finished_at", "status", "analyzer"]

    def get_queryset(self):
        return self.tenant_queryset(AnalysisJob.objects.all())

    @extend_schema(request=None, responses=serializers.JobSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        job = self.get_object()
        if not lifecycle.cancel_jobs(AnalysisJob.objects.filter(pk=job.pk)):
            raise ApiError(
                "not_cancellable",
                f"The job is {job.status}; only queued jobs can be cancelled.",
                status=409,
            )
        job.refresh_from_db()
        return Response(self.get_serializer(job).data)


class ResultViewSet(TenantScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Analysis results; each records analyzer, model version and weights hash."""

    serializer_class = serializers.ResultSerializer
    filterset_class = filters.ResultFilter
    ordering_fields = ["created_at", "analyzer", "duration_ms"]

    def get_queryset(self):
        return self.tenant_queryset(AnalysisResult.objects.select_related("media__submission"))


class AnalyzerViewSet(viewsets.ViewSet):
    """The analyzers this server runs, with their specs and schemas."""

    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    serializer_class = serializers.AnalyzerSpecSerializer

    @extend_schema(responses=serializers.AnalyzerSpecSerializer(many=True))
    def list(self, request):
        specs = [_spec_entry(spec) for spec in registry.enabled_specs()]
        return Response(serializers.AnalyzerSpecSerializer(specs, many=True).data)

    @extend_schema(responses=serializers.AnalyzerSpecSerializer)
    def retrieve(self, request, name=None):
        spec = _enabled_spec(name)
        return Response(serializers.AnalyzerSpecSerializer(_spec_entry(spec)).data)

    @extend_schema(
        responses={(200, "text/markdown"): OpenApiResponse(description="The model card.")},
        auth=[],
    )
    @action(detail=True, methods=["get"], url_path="model-card", permission_classes=[AllowAny])
    def model_card(self, request, name=None):
        """The analyzer's model card (Markdown): public, like the documentation it is."""
        spec = _enabled_spec(name)
        path = model_cards.card_file(spec)
        if path is None:
            url = model_cards.card_url(spec)
            message = f"{name} ships no model card file" + (f"; see {url}." if url else ".")
            raise ApiError("not_found", message, status=404, details={"model_card_url": url})
        return FileResponse(path.open("rb"), content_type="text/markdown; charset=utf-8")


def _enabled_spec(name: str):
    try:
        return registry.get_spec(name)
    except registry.UnknownAnalyzer:
        raise ApiError("not_found", f"No enabled analyzer named {name!r}.", status=404) from None


def _spec_entry(spec) -> dict:
    return {**spec.as_dict(), "model_card_url": model_cards.card_url(spec)}
