"""``/api/v1/brands``: brands (CRUD), their report aggregates and recorded alerts."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from emotionhub.accounts.principal import principal_for
from emotionhub.apibase.errors import ApiError, reject_unknown_fields
from emotionhub.apibase.viewsets import TenantScopedMixin
from emotionhub.reporting import alerts as alert_rules
from emotionhub.reporting import facts, queries
from emotionhub.reporting.api import serializers
from emotionhub.reporting.filters import FilterError, parse
from emotionhub.reporting.models import Alert, AlertKind, Brand

REPORT_PARAMETERS = [
    OpenApiParameter(
        "start", OpenApiTypes.DATE, description="First day (UTC); default: 29 days before end."
    ),
    OpenApiParameter(
        "end", OpenApiTypes.DATE, description="Last day, inclusive (UTC); default: today."
    ),
    OpenApiParameter(
        "granularity", str, enum=list(queries.GRANULARITIES), description="Bucket size."
    ),
    OpenApiParameter("analyzer", str, description="Only results of this analyzer."),
    OpenApiParameter("kind", str, enum=["image", "video", "text"], description="Media kind."),
    OpenApiParameter("source", OpenApiTypes.UUID, description="Only posts of this source."),
]
CHART_NAMES = ["timeseries", "emotions", "by_source", "by_kind", "top_positive", "top_negative"]


def _filters(brand: Brand, request):
    try:
        return parse(brand, request.query_params, strict=True)
    except FilterError as exc:
        raise ApiError(exc.code, exc.message, status=400, details={"field": exc.field}) from None


class BrandViewSet(
    TenantScopedMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Brands and campaigns: a group of sources and keywords with its dashboard and alerts."""

    serializer_class = serializers.BrandSerializer
    ordering_fields = ["name", "created_at"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return self.tenant_queryset(
            Brand.objects.select_related("tenant").prefetch_related("sources")
        )

    def get_serializer(self, *args, **kwargs):
        principal = principal_for(self.request)
        kwargs.setdefault("tenant", principal.tenant if principal else None)
        return super().get_serializer(*args, **kwargs)

    def create(self, request, *args, **kwargs):
        form = self.get_serializer(data=request.data)
        reject_unknown_fields(request.data, form)
        form.is_valid(raise_exception=True)
        brand = form.save(tenant=principal_for(request).tenant)
        return Response(
            self.get_serializer(brand).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/brands/{brand.pk}"},
        )

    def update(self, request, *args, **kwargs):
        brand = self.get_object()
        form = self.get_serializer(brand, data=request.data, partial=True)
        reject_unknown_fields(request.data, form)
        form.is_valid(raise_exception=True)
        return Response(self.get_serializer(form.save()).data)

    @extend_schema(parameters=REPORT_PARAMETERS, responses=serializers.ReportSerializer)
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def report(self, request, pk=None):
        """Every dashboard chart for the filters, and the alerts of the range's last day."""
        brand = self.get_object()
        filters = _filters(brand, request)
        facts.sync_for_request()
        data = queries.report(filters)
        detected = alert_rules.detect(brand, min(timezone.now(), filters.end_at))
        body = {
            "brand": brand.pk,
            "filters": {
                **filters.as_query(),
                "analyzer": filters.analyzer,
                "kind": filters.kind,
                "source": filters.source_id,
            },
            **data,
            "alerts": [a.as_dict() for a in detected],
        }
        return Response(serializers.ReportSerializer(body).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("chart", str, OpenApiParameter.PATH, enum=CHART_NAMES),
            *REPORT_PARAMETERS,
        ],
        responses={200: OpenApiTypes.OBJECT},
        operation_id="brands_report_chart",
        description="One chart's rows: the same as the matching key of `report`.",
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"report/(?P<chart>[a-z_]+)",
        url_name="chart",
        filter_backends=[],
        pagination_class=None,
    )
    def chart(self, request, pk=None, chart=None):
        brand = self.get_object()
        if chart not in CHART_NAMES:
            raise ApiError(
                "unknown_chart",
                f"No chart {chart!r}; choose one of {', '.join(CHART_NAMES)}.",
                status=404,
            )
        filters = _filters(brand, request)
        facts.sync_for_request()
        rows = {
            "timeseries": queries.timeseries,
            "emotions": queries.emotions,
            "by_source": queries.by_source,
            "by_kind": queries.by_kind,
            "top_positive": lambda f: queries.top_posts(f, 1),
            "top_negative": lambda f: queries.top_posts(f, -1),
        }[chart](filters)
        body = serializers.ReportSerializer().fields[chart].to_representation(rows)
        return Response({"chart": chart, "filters": filters.as_query(), "rows": body})

    @extend_schema(
        parameters=[OpenApiParameter("kind", str, enum=list(AlertKind.values))],
        responses=serializers.AlertSerializer(many=True),
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def alerts(self, request, pk=None):
        """Alerts recorded (and sent) for this brand, newest first."""
        brand = self.get_object()
        queryset = Alert.objects.filter(brand=brand)
        kind = request.query_params.get("kind")
        if kind:
            if kind not in AlertKind.values:
                raise ApiError(
                    "invalid_kind", f"kind must be one of {', '.join(AlertKind.values)}."
                )
            queryset = queryset.filter(kind=kind)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializers.AlertSerializer(page, many=True).data)
