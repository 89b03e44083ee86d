"""Auditing for the tenant-scoped API viewsets: one event per successful request.

Reads and already-committed writes are recorded leniently (a lost event is logged, the
answer still goes out); exports are refused with 503 ``audit_unavailable`` when their
event cannot be written, and deletions record inside the deleting transaction.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.db import transaction
from rest_framework.response import Response

from emotionhub.accounts.principal import principal_for
from emotionhub.apibase.errors import error_body
from emotionhub.audit.actions import Action
from emotionhub.audit.recording import record

log = logging.getLogger("emotionhub.audit")

ACTIONS = {
    "list": Action.LIST,
    "retrieve": Action.VIEW,
    "create": Action.CREATE,
    "update": Action.UPDATE,
    "partial_update": Action.UPDATE,
    "cancel": Action.CANCEL,
    "report": Action.EXPORT,
    "chart": Action.EXPORT,
}
NOT_AUDITED = {None, "metadata", "destroy"}  # destroy records in its transaction


if TYPE_CHECKING:  # what the mixin is mixed into, for the type checker
    from rest_framework import mixins, viewsets

    class _ViewSet(mixins.DestroyModelMixin, viewsets.GenericViewSet): ...
else:
    _ViewSet = object


class AuditedViewMixin(_ViewSet):
    """Mixed into ``TenantScopedMixin``; ``audit_type`` defaults to the router basename."""

    audit_type: str | None = None

    def audit_object_type(self) -> str:
        return self.audit_type or getattr(self, "basename", None) or type(self).__name__

    def audit_deletion(self, instance) -> None:
        """Record a deletion; call inside the transaction that deletes ``instance``."""
        record(
            Action.DELETE,
            tenant=getattr(instance, "tenant_id", None),
            obj_type=self.audit_object_type(),
            obj_id=instance.pk,
            details={"repr": str(instance)[:200]},
            request=self.request,
        )

    def perform_destroy(self, instance) -> None:
        with transaction.atomic():
            self.audit_deletion(instance)
            super().perform_destroy(instance)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.action in NOT_AUDITED or not 200 <= response.status_code < 300:
            return response
        action = self._audit_action(request, response)
        strict = action == Action.EXPORT
        try:
            self._record(action, request, response, strict=strict)
        except Exception:
            log.exception("refusing an export whose audit event could not be written")
            refused = Response(
                error_body(
                    "audit_unavailable",
                    "The export could not be recorded in the audit log, so it was refused; "
                    "try again.",
                ),
                status=503,
                headers={"Retry-After": "30"},
            )
            return super().finalize_response(request, refused, *args, **kwargs)
        return response

    def _audit_action(self, request, response) -> Action:
        if self.action in ACTIONS:
            return ACTIONS[self.action]
        if request.method in ("GET", "HEAD"):
            return Action.LIST if _page(response) is not None else Action.VIEW
        return Action.UPDATE

    def _record(self, action: Action, request, response, *, strict: bool) -> None:
        principal = principal_for(request)
        lookup = self.lookup_url_kwarg or self.lookup_field
        obj_id = self.kwargs.get(lookup)
        details: dict = {}
        if self.action not in ACTIONS:
            details["operation"] = self.action
        if self.kwargs.get("chart"):
            details["chart"] = self.kwargs["chart"]
        count = None
        page = _page(response)
        if page is not None:
            count = len(page["results"])
            details["total"] = page["count"]
        if request.query_params:
            details["query"] = {k: request.query_params.getlist(k) for k in request.query_params}
        if obj_id is None and isinstance(response.data, dict) and "id" in response.data:
            obj_id = response.data["id"]
        details["status"] = response.status_code
        record(
            action,
            tenant=principal.tenant if principal else None,
            obj_type=self.audit_object_type(),
            obj_id=obj_id,
            count=count,
            details=details,
            request=request,
            strict=strict,
        )


def _page(response) -> dict | None:
    data = response.data
    if isinstance(data, dict) and "results" in data and "count" in data:
        return data
    return None
