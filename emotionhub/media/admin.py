from django.contrib import admin

from emotionhub.accounts.access import TenantScopedAdminMixin
from emotionhub.audit.admin_mixins import AuditedAdminMixin
from emotionhub.media.models import Media


@admin.register(Media)
class MediaAdmin(TenantScopedAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("id", "kind", "mime", "size", "tenant", "created_at")
    list_filter = ("kind", "tenant")
    search_fields = ("id", "sha256", "original_name")
    readonly_fields = [f.name for f in Media._meta.fields]
