"""``/api/v1/imports``: upload a CSV or JSON Lines file of feedback, follow it, cancel it,
and download the rows it skipped (with the reason of each) as CSV."""

from __future__ import annotations

import csv

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from emotionhub.accounts.principal import principal_for
from emotionhub.apibase.errors import ApiError
from emotionhub.apibase.viewsets import TenantScopedMixin
from emotionhub.social import imports
from emotionhub.social.import_mapping import FIELDS
from emotionhub.social.models import FeedbackImport, ImportFormat, Source, SourceKind


class FeedbackImportSerializer(serializers.ModelSerializer):
    error = serializers.SerializerMethodField()

    class Meta:
        model = FeedbackImport
        fields = [
            "id",
            "source",
            "run",
            "original_name",
            "format",
            "mapping",
            "size",
            "status",
            "rows_read",
            "rows_created",
            "rows_skipped",
            "attempts",
            "cancel_requested",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_error(self, feedback: FeedbackImport) -> dict | None:
        if not feedback.error_code:
            return None
        return {"code": feedback.error_code, "message": feedback.error_message}


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV (with a header row) or JSON Lines, UTF-8.")
    mapping = serializers.JSONField(
        help_text=f"Field -> column. Fields: {', '.join(FIELDS)}; text is required."
    )
    format = serializers.ChoiceField(choices=ImportFormat.choices, required=False)
    # named like the attribute Field.source: DRF takes declared fields off the class
    source = serializers.UUIDField(  # type: ignore[assignment]
        required=False, help_text="An import source to add to; default: a new one."
    )
    name = serializers.CharField(required=False, max_length=200, help_text="New source's name.")


class _Echo:
    def write(self, value: str) -> str:
        return value


class FeedbackImportViewSet(
    TenantScopedMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = FeedbackImportSerializer
    parser_classes = [MultiPartParser, FormParser]
    filterset_fields = ["status", "source"]
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return self.tenant_queryset(FeedbackImport.objects.all())

    @extend_schema(request=ImportUploadSerializer, responses={202: FeedbackImportSerializer})
    def create(self, request, *args, **kwargs):
        form = ImportUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        tenant = principal_for(request).tenant
        source = None
        if form.validated_data.get("source"):
            source = Source.objects.filter(
                pk=form.validated_data["source"], tenant=tenant, kind=SourceKind.IMPORT
            ).first()
            if source is None:
                raise ApiError("invalid_source", "source must be one of your import sources.")
        feedback = imports.create_import(
            tenant,
            form.validated_data["file"],
            form.validated_data["mapping"],
            source=source,
            name=form.validated_data.get("name", ""),
            fmt=form.validated_data.get("format"),
        )
        return Response(
            FeedbackImportSerializer(feedback).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": f"/api/v1/imports/{feedback.pk}"},
        )

    @extend_schema(request=None, responses={200: FeedbackImportSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Stop the import after the batch being read; what was created stays."""
        feedback = imports.cancel_import(self.get_object())
        return Response(FeedbackImportSerializer(feedback).data)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"], url_path="skipped.csv")
    def skipped(self, request, pk=None):
        """The skipped rows as CSV: row, code, message (streamed)."""
        feedback = self.get_object()
        writer = csv.writer(_Echo())
        rows = feedback.skips.order_by("row").values_list("row", "code", "message").iterator()

        def stream():
            yield writer.writerow(("row", "code", "message"))
            for row in rows:
                yield writer.writerow(row)

        response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{feedback.pk}-skipped.csv"'
        response.data = None  # the audit record reads it (a streamed body has none)
        return response
