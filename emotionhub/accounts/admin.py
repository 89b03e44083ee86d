from django.contrib import admin

from emotionhub.accounts.models import ApiKey, Tenant, TenantMembership
from emotionhub.audit.admin_mixins import AuditedAdminMixin


@admin.register(Tenant)
class TenantAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(TenantMembership)
class TenantMembershipAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("user", "tenant", "scopes")
    list_select_related = ("user", "tenant")


@admin.register(ApiKey)
class ApiKeyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "tenant",
        "prefix",
        "scopes",
        "rate_limit_per_minute",
        "daily_item_quota",
        "expires_at",
        "revoked_at",
    )
    list_filter = ("tenant",)
    readonly_fields = ("prefix", "created_at", "last_used_at")
    exclude = ("hashed_key",)

    def has_add_permission(self, request) -> bool:
        # The raw key is shown once; issue keys with `manage.py create_api_key`.
        return False
