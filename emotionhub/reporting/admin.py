"""Brands and alerts in the admin, scoped to the signed-in user's tenant."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from emotionhub.accounts.access import membership_tenant, scope_queryset
from emotionhub.audit.admin_mixins import AuditedAdminMixin
from emotionhub.core.jsonforms import DepthLimitedJSONAdminMixin
from emotionhub.reporting.models import Alert, Brand
from emotionhub.social.models import Source


@admin.register(Brand)
class BrandAdmin(AuditedAdminMixin, DepthLimitedJSONAdminMixin, admin.ModelAdmin):
    list_display = ("name", "tenant", "dashboard", "alert_webhook_url", "created_at")
    filter_horizontal = ("sources",)

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request.user)

    def get_exclude(self, request, obj=None):
        # Members create brands for their own tenant only.
        return ("tenant",) if membership_tenant(request.user) else ()

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "sources":
            kwargs["queryset"] = scope_queryset(Source.objects.all(), request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        tenant = membership_tenant(request.user)
        if tenant is not None:
            obj.tenant = tenant
        super().save_model(request, obj, form, change)

    @admin.display(description="dashboard")
    def dashboard(self, obj):
        return format_html('<a href="{}">open</a>', reverse("reporting:dashboard", args=[obj.pk]))


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("message", "brand", "kind", "direction", "window_end", "webhook_status")
    list_filter = ("kind", "direction", "webhook_status")
    readonly_fields = [f.name for f in Alert._meta.fields]

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request.user)

    def has_add_permission(self, request) -> bool:
        return False
