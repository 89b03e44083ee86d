from django.contrib import admin

from emotionhub.social.models import Post, Source


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "tenant", "enabled", "created_at")
    list_filter = ("kind", "enabled", "tenant")


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ("external_id", "source", "author", "posted_at")
    list_filter = ("source",)
    search_fields = ("text", "author", "external_id")
