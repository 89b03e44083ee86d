"""Tenants, memberships, keys and users in the admin. Staff members of a tenant see and
change only their tenant; operators (superusers without a membership) see everything."""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User

from emotionhub.accounts.access import (
    OperatorOnlyAdminMixin,
    TenantScopedAdminMixin,
    is_operator,
)
from emotionhub.accounts.forms import ApiKeyForm, TenantMembershipForm
from emotionhub.accounts.models import ApiKey, Tenant, TenantMembership
from emotionhub.audit.admin_mixins import AuditedAdminMixin


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    tenant_field = "pk"
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(TenantMembership)
class TenantMembershipAdmin(TenantScopedAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    form = TenantMembershipForm
    list_display = ("user", "tenant", "scopes")
    list_select_related = ("user", "tenant")

    def has_delete_permission(self, request, obj=None) -> bool:
        # A superuser without a membership is an operator: only operators may make one.
        return is_operator(request.user) and super().has_delete_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user" and not is_operator(request.user):
            kwargs["queryset"] = User.objects.filter(is_superuser=False)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    form = ApiKeyForm
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


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class TenantUserAdmin(TenantScopedAdminMixin, UserAdmin):
    """Members manage their tenant's users but cannot grant superuser or permissions."""

    tenant_field = "membership__tenant"

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if is_operator(request.user):
            return fields
        return (*fields, "is_superuser", "groups", "user_permissions")


@admin.register(Group)
class OperatorGroupAdmin(OperatorOnlyAdminMixin, GroupAdmin):
    """Groups carry permissions across tenants: operators only."""
