"""Tenants own media, jobs and results; API keys act for a tenant with given scopes."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

KEY_PREFIX = "ehk_"


class Scope(models.TextChoices):
    READ = "read", "Read results"
    SUBMIT = "submit", "Submit media"
    ADMIN = "admin", "Administer the tenant"


class AnalysisPurpose(models.TextChoices):
    """Why a tenant analyses media. Emotion recognition on faces is prohibited for some
    purposes (EU AI Act, Article 5(1)(f): workplaces and education institutions)."""

    UNDECLARED = "undeclared", "Not declared yet"
    CUSTOMER_FEEDBACK = "customer_feedback", "Customer feedback and brand research"
    MARKETING_RESEARCH = "marketing_research", "Marketing and advertising research"
    MEDIA_RESEARCH = "media_research", "Media and content research"
    ACADEMIC_RESEARCH = "academic_research", "Academic research (ethics-approved)"
    WORKPLACE = "workplace", "Monitoring employees or job applicants"
    EDUCATION = "education", "Monitoring students or learners"


class Tenant(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    # Signs webhook deliveries (HMAC-SHA256) so receivers can verify them.
    webhook_secret = models.CharField(max_length=64, default=secrets.token_hex, editable=False)
    # Stored images are re-encoded without EXIF/GPS/XMP unless the tenant needs them kept.
    keep_image_metadata = models.BooleanField(
        default=False,
        help_text="Store images exactly as sent, with their metadata (EXIF, GPS, XMP).",
    )
    purpose = models.CharField(
        max_length=32,
        choices=AnalysisPurpose.choices,
        default=AnalysisPurpose.UNDECLARED,
        help_text="What the analysis is for; decides whether emotion inference on faces is "
        "allowed (see docs/responsible-use.md).",
    )
    media_retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Purge stored media files and face data this many days after upload; "
        "empty keeps them until deleted.",
    )
    blur_faces = models.BooleanField(
        default=False, help_text="Blur detected faces in thumbnails and dashboard images."
    )
    require_consent = models.BooleanField(
        default=False,
        help_text="Refuse image and video submissions that do not record the subjects' consent.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class TenantMembership(models.Model):
    """Ties a Django user (admin, browsable API, dashboards) to exactly one tenant."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    scopes = models.JSONField(default=list, help_text="Subset of read, submit, admin.")

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant}"


def hash_key(raw_key: str) -> str:
    """Keys are 256-bit random, so a plain SHA-256 is enough to store them safely."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def usable(self) -> ApiKeyQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiKey(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=16, db_index=True, editable=False)
    hashed_key = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Requests per minute; empty uses the server default."
    )
    daily_item_quota = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Media items this key may submit per UTC day; empty uses the server default.",
    )

    objects = ApiKeyQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(
        cls, tenant: Tenant, name: str, scopes: list[str], expires_at=None
    ) -> tuple[ApiKey, str]:
        """Create a key and return it with the raw secret, which is never stored."""
        raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(
            tenant=tenant,
            name=name,
            prefix=raw_key[: len(KEY_PREFIX) + 6],
            hashed_key=hash_key(raw_key),
            scopes=sorted(set(scopes)),
            expires_at=expires_at,
        )
        return key, raw_key
