"""Read-only audit log in the admin; a tenant member sees their tenant's events only."""

from __future__ import annotations

from django.contrib import admin

from emotionhub.accounts.access import ReadOnlyAdminMixin, TenantScopedAdminMixin
from emotionhub.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(TenantScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "tenant", "actor", "action", "obj_type", "obj_id", "count", "ip")
    list_filter = ("action", "obj_type", ("created_at", admin.DateFieldListFilter))
    search_fields = ("obj_id", "actor", "path")
    list_select_related = ("tenant",)
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
