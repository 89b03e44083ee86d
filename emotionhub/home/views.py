"""The start page (what is running and where everything is) and the 403 page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve, reverse

from emotionhub.accounts.access import AccessDenied, is_operator, membership_tenant
from emotionhub.analyzers.registry import enabled_names
from emotionhub.api.health import broker_status, database_status, worker_status
from emotionhub.apibase.errors import error_body


def _exists(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def _links() -> list[dict]:
    links = [
        ("API docs", "/api/v1/docs/", "Interactive OpenAPI documentation (Swagger UI)."),
        ("Admin", reverse("admin:index"), "Tenants, users, API keys, jobs and results."),
        (
            "Review queue",
            reverse("admin:review_reviewitem_changelist"),
            "Check and correct what the models saw.",
        ),
        ("Dashboards", reverse("reporting:brands"), "Sentiment and emotions per brand."),
        ("Real-time demo", "/realtime/", "Live webcam analysis in the browser."),
        ("Health", reverse("health"), "Database, broker and worker status (JSON)."),
    ]
    return [
        {"title": title, "url": url, "about": about} for title, url, about in links if _exists(url)
    ]


def landing(request: HttpRequest) -> HttpResponse:
    database = database_status()
    workers = worker_status() if database["ok"] else {"ok": False, "count": 0, "workers": []}
    embedded = settings.CELERY_BROKER_URL.startswith("filesystem://")
    password_file = settings.VAR_DIR / "admin-password"
    context = {
        "database": database,
        "broker": broker_status(),
        "workers": workers,
        "analyzers": enabled_names(),
        "links": _links(),
        "tenant": membership_tenant(request.user),
        "operator": is_operator(request.user),
        "embedded": embedded,
        "admin_password_file": password_file,
        "admin_password_hint": embedded and password_file.is_file(),
    }
    return render(request, "home/landing.html", context)


def forbidden(request: HttpRequest, exception=None) -> HttpResponse:
    """403 with the reason and the way out, instead of a bare "403 Forbidden"."""
    reason = getattr(exception, "reason", "") or (str(exception) if exception else "")
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body("permission_denied", reason or "You may not do this."), status=403
        )
    context = {
        "reason": reason or "You do not have permission to see this page.",
        "fix": getattr(exception, "fix", ""),
        "fix_url": getattr(exception, "fix_url", ""),
        "fix_link": getattr(exception, "fix_link", ""),
        "actionable": isinstance(exception, AccessDenied),
    }
    return render(request, "403.html", context, status=403)
