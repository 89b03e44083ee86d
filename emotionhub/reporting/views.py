"""Dashboard pages for signed-in tenant members: brand list, one brand's dashboard, CSV."""

from __future__ import annotations

import datetime as dt
import logging

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from emotionhub.accounts.access import membership_required, membership_tenant
from emotionhub.audit import Action, record
from emotionhub.media.models import MediaKind
from emotionhub.reporting import alerts, csv_export, facts, queries
from emotionhub.reporting.emotions import COMMON_EMOTIONS
from emotionhub.reporting.filters import FilterError, parse
from emotionhub.reporting.models import Brand, ResultFact

log = logging.getLogger(__name__)
AUDIT_UNAVAILABLE = "audit_unavailable: the export could not be recorded, so it was refused."


def _tenant(request: HttpRequest):
    tenant = membership_tenant(request.user)
    if tenant is None:
        raise membership_required(request.user, "Dashboards")
    return tenant


def _brand(request: HttpRequest, pk) -> Brand:
    brand = Brand.objects.filter(tenant=_tenant(request), pk=pk).select_related("tenant").first()
    if brand is None:
        raise Http404("No such brand.")
    return brand


@login_required
def brand_list(request: HttpRequest) -> HttpResponse:
    brands = Brand.objects.filter(tenant=_tenant(request))
    return render(request, "reporting/brand_list.html", {"brands": brands})


def _alerts_end(filters: queries.ReportFilters) -> dt.datetime:
    """Alerts of the range's last day: as of now when the range ends today or later."""
    now = timezone.now()
    return min(now, filters.end_at)


@login_required
def dashboard(request: HttpRequest, pk) -> HttpResponse:
    brand = _brand(request, pk)
    facts.sync_for_request()
    error = None
    try:
        filters = parse(brand, request.GET)
    except FilterError as exc:
        error = exc
        filters = parse(brand, {})
    data = queries.report(filters)
    record(
        Action.VIEW,
        tenant=brand.tenant,
        obj_type="dashboard",
        obj_id=brand.pk,
        details=filters.as_query(),
        request=request,
        strict=False,
    )
    for row in data["top_positive"] + data["top_negative"]:
        if row["thumbnail"]:
            row["thumbnail_url"] = (
                reverse("reporting:media-image", args=[row["media"]]) + "?size=240"
            )
    query = urlencode(filters.as_query())
    analyzers = (
        ResultFact.objects.filter(tenant=brand.tenant, current=True)
        .values_list("analyzer", flat=True)
        .distinct()
        .order_by("analyzer")
    )
    context = {
        "brand": brand,
        "filters": filters,
        "error": error,
        "data": data,
        "chart_data": {**_chart_data(data), "granularity": filters.granularity},
        "alerts": [a.as_dict() for a in alerts.detect(brand, _alerts_end(filters))],
        "csv_links": {
            chart: reverse("reporting:chart-csv", args=[brand.pk, chart]) + "?" + query
            for chart in csv_export.CHARTS
        },
        "api_url": f"/api/v1/brands/{brand.pk}/report?{query}",
        "sources": brand.tenant.sources.order_by("name"),
        "analyzers": list(analyzers),
        "kinds": MediaKind.choices,
        "granularities": queries.GRANULARITIES,
        "emotion_breakdown": queries.emotion_breakdown(filters),
        "chart_analyzers": queries.chart_analyzers(filters),
        "common_emotions": COMMON_EMOTIONS,
    }
    return render(request, "reporting/dashboard.html", context)


def _chart_data(data: dict) -> dict:
    """What dashboard.js draws; buckets as ISO strings."""
    return {
        "timeseries": [{**row, "bucket": row["bucket"].isoformat()} for row in data["timeseries"]],
        "emotions": [{**row, "bucket": row["bucket"].isoformat()} for row in data["emotions"]],
        "by_source": data["by_source"],
        "by_kind": data["by_kind"],
    }


@login_required
def chart_csv(request: HttpRequest, pk, chart: str) -> HttpResponse:
    brand = _brand(request, pk)
    if chart not in csv_export.CHARTS:
        raise Http404("No such chart.")
    facts.sync_for_request()
    try:
        filters = parse(brand, request.GET)
    except FilterError as exc:
        return HttpResponse(f"{exc.code}: {exc.message}", status=400, content_type="text/plain")
    body = csv_export.chart_csv(chart, filters)
    try:  # an export nobody can trace is not served
        record(
            Action.EXPORT,
            tenant=brand.tenant,
            obj_type="dashboard_csv",
            obj_id=brand.pk,
            count=max(0, body.count("\n") - 1),
            details={"chart": chart, **filters.as_query()},
            request=request,
        )
    except Exception:
        log.exception("refusing a CSV export whose audit event could not be written")
        return HttpResponse(AUDIT_UNAVAILABLE, status=503, content_type="text/plain")
    response = HttpResponse(body, content_type="text/csv")
    name = f"{brand.name}-{chart}-{filters.start}-{filters.end}.csv".replace('"', "")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
