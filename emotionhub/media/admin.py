from django.contrib import admin

from emotionhub.audit.admin_mixins import AuditedAdminMixin
from emotionhub.media.models import Media
from emotionhub.reporting.access import TenantScopedAdminMixin


@admin.register(Media)
class MediaAdmin(TenantScopedAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("id", "kind", "mime", "size", "tenant", "created_at")
    list_filter = ("kind", "tenant")
    search_fields = ("id", "sha256", "original_name")
    readonly_fields = [f.name for f in Media._meta.fields]
