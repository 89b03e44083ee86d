"""The tenant-scoped viewset base: every API resource of every app builds on it."""

from __future__ import annotations

from emotionhub.accounts.principal import principal_for
from emotionhub.apibase.auditing import AuditedViewMixin


class TenantScopedMixin(AuditedViewMixin):
    """Every queryset is filtered to the caller's tenant: others' rows answer 404.

    Every successful request is recorded in the audit log (``AuditedViewMixin``).
    """

    def tenant_queryset(self, queryset):
        principal = principal_for(self.request)
        if principal is None:  # schema generation, or a user without tenant
            return queryset.none()
        return queryset.filter(tenant=principal.tenant)
