"""Admin deletions and changes of tenant data go to the audit log as well as LogEntry."""

from __future__ import annotations

from emotionhub.audit.actions import Action
from emotionhub.audit.recording import record


def _tenant_id(obj):
    from emotionhub.accounts.models import Tenant

    return obj.pk if isinstance(obj, Tenant) else getattr(obj, "tenant_id", None)


class AuditedAdminMixin:
    """For ModelAdmins of tenant data. Django calls ``log_deletions`` before deleting
    (inside the delete view's transaction), so a failed audit write stops the deletion."""

    def log_deletions(self, request, queryset):
        for obj in queryset:
            record(
                Action.DELETE,
                tenant=_tenant_id(obj),
                obj_type=obj._meta.model_name,
                obj_id=obj.pk,
                details={"repr": str(obj)[:200], "via": "admin"},
                request=request,
            )
        return super().log_deletions(request, queryset)

    def log_change(self, request, obj, message):
        record(
            Action.UPDATE,
            tenant=_tenant_id(obj),
            obj_type=obj._meta.model_name,
            obj_id=obj.pk,
            details={"change": message, "via": "admin"},
            request=request,
        )
        return super().log_change(request, obj, message)
