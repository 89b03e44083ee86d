"""Admin: sources with their runs and a link to the beat schedule (django-celery-beat's
own PeriodicTask admin edits interval, crontab and enabled), and posts."""

from django import forms
from django.contrib import admin
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

from emotionhub.accounts.access import (
    TenantScopedAdminMixin,
    is_operator,
    membership_tenant,
    scope_queryset,
)
from emotionhub.accounts.models import Tenant
from emotionhub.audit.admin_mixins import AuditedAdminMixin
from emotionhub.core.errors import DomainError
from emotionhub.core.jsonforms import DepthLimitedJSONAdminMixin, DepthLimitedJSONFormField
from emotionhub.social import imports, schedules
from emotionhub.social.connectors import InvalidConfig, clean_config
from emotionhub.social.models import FeedbackImport, Post, RunTrigger, Source, SourceRun


class SourceForm(forms.ModelForm):
    class Meta:
        model = Source
        fields = [
            "tenant",
            "kind",
            "name",
            "config",
            "enabled",
            "analyzers",
            "analyzer_settings",
            "max_posts_per_run",
            "max_media_per_run",
        ]

    def clean(self):
        data = super().clean()
        try:
            data["config"] = clean_config(data.get("kind"), data.get("config") or {})
        except InvalidConfig as exc:
            self.add_error("config", str(exc))
        return data


class SourceRunInline(admin.TabularInline):
    model = SourceRun
    extra = 0
    can_delete = False
    ordering = ["-started_at"]
    fields = readonly_fields = (
        "started_at",
        "trigger",
        "status",
        "fetched",
        "new",
        "duplicate",
        "skipped",
        "media_stored",
        "media_skipped",
        "http_status",
        "error_code",
        "error_message",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-started_at")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Source)
class SourceAdmin(
    TenantScopedAdminMixin, AuditedAdminMixin, DepthLimitedJSONAdminMixin, admin.ModelAdmin
):
    list_display = (
        "name",
        "kind",
        "tenant",
        "enabled",
        "last_fetched_at",
        "consecutive_failures",
        "next_fetch_allowed_at",
    )
    list_filter = ("kind", "enabled", "tenant")
    search_fields = ("name",)
    readonly_fields = (
        "schedule_link",
        "cursor",
        "next_fetch_allowed_at",
        "consecutive_failures",
        "fetch_lease_until",
        "last_fetched_at",
        "created_at",
    )
    form = SourceForm
    inlines = [SourceRunInline]
    actions = ["fetch_now", "clear_backoff"]

    @admin.display(description="schedule")
    def schedule_link(self, source: Source) -> str:
        task = source.periodic_task
        if task is None:
            return "—"
        url = reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])
        return format_html('<a href="{}">{}</a> ({})', url, task.schedule, "edit")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        schedules.sync_schedule(obj)  # creates the beat entry, follows `enabled`

    @admin.action(description="Fetch now")
    def fetch_now(self, request, queryset):
        from emotionhub.social.tasks import fetch_source

        for source in queryset:
            fetch_source.apply_async(args=[str(source.pk), RunTrigger.MANUAL], queue="ingest")
        self.message_user(request, f"{queryset.count()} fetches queued.")

    @admin.action(description="Clear back-off (allow the next fetch now)")
    def clear_backoff(self, request, queryset):
        updated = queryset.update(next_fetch_allowed_at=None, consecutive_failures=0)
        self.message_user(request, f"{updated} sources may fetch again.")


@admin.register(Post)
class PostAdmin(
    TenantScopedAdminMixin, AuditedAdminMixin, DepthLimitedJSONAdminMixin, admin.ModelAdmin
):
    list_display = ("external_id", "source", "author", "posted_at", "ingested_at", "media_role")
    list_filter = ("source", "media_role", "nsfw")
    search_fields = ("text", "author", "external_id")
    readonly_fields = ("submission", "run", "skipped_media", "ingested_at")


@admin.register(SourceRun)
class SourceRunAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ("source", "trigger", "status", "started_at", "new", "duplicate", "error_code")
    list_filter = ("status", "trigger", "error_code")
    readonly_fields = [f.name for f in SourceRun._meta.fields]

    def has_add_permission(self, request):
        return False


admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class TenantPeriodicTaskAdmin(TenantScopedAdminMixin, PeriodicTaskAdmin):
    """Members see their sources' fetch schedules and may change when they run, not what
    runs; the platform's own tasks (reconciler, reports, retention) are for operators."""

    tenant_field = "social_source__tenant"
    member_editable = ("enabled", "interval", "crontab", "solar", "clocked", "start_time")

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if is_operator(request.user):
            return fields
        model_fields = {field.name for field in PeriodicTask._meta.fields}
        fixed = model_fields - set(self.member_editable) - set(fields)
        return (*fields, *sorted(fixed))

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if is_operator(request.user):
            return fieldsets
        # The task picker is a form-only field: members see the task name read-only instead.
        return [
            (title, {**options, "fields": [f for f in options["fields"] if f != "regtask"]})
            for title, options in fieldsets
        ]

    def has_add_permission(self, request) -> bool:
        return is_operator(request.user) and super().has_add_permission(request)


class FeedbackImportUploadForm(forms.Form):
    """The admin's upload: the same checks and path as ``POST /api/v1/imports``."""

    file = forms.FileField(help_text="CSV with a header row, or JSON Lines (.jsonl).")
    mapping = DepthLimitedJSONFormField(
        help_text='Field -> column, e.g. {"text": "comment", "time": "submitted_at"}.'
    )
    source = forms.ModelChoiceField(
        Source.objects.filter(kind="import"), required=False, help_text="Empty: a new source."
    )
    name = forms.CharField(required=False, max_length=200)
    tenant = forms.ModelChoiceField(
        Tenant.objects.all(), required=False, help_text="Operators: the tenant to import into."
    )


@admin.register(FeedbackImport)
class FeedbackImportAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ("original_name", "source", "status", "rows_read", "rows_created")
    list_filter = ("status",)
    readonly_fields = [f.name for f in FeedbackImport._meta.fields]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def add_view(self, request, form_url="", extra_context=None):
        user_tenant = membership_tenant(request.user)
        form = FeedbackImportUploadForm(request.POST or None, request.FILES or None)
        form.fields["source"].queryset = scope_queryset(
            Source.objects.filter(kind="import"), request.user
        )
        form.fields["tenant"].queryset = scope_queryset(Tenant.objects.all(), request.user, "pk")
        if request.method == "POST" and form.is_valid():
            tenant = user_tenant or form.cleaned_data["tenant"]
            if tenant is None:
                form.add_error("tenant", "Choose the tenant to import into.")
            else:
                try:
                    feedback = imports.create_import(
                        tenant,
                        form.cleaned_data["file"],
                        form.cleaned_data["mapping"],
                        source=form.cleaned_data["source"],
                        name=form.cleaned_data["name"],
                    )
                except DomainError as exc:
                    form.add_error(None, f"{exc.code}: {exc.message}")
                else:
                    self.message_user(request, f"Import queued: {feedback}")
                    return redirect(
                        reverse("admin:social_feedbackimport_change", args=[feedback.pk])
                    )
        context = {
            **self.admin_site.each_context(request),
            "title": "Import customer feedback",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/social/feedback_import_upload.html", context)
