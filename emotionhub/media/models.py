"""A Media row is one analysable thing: an image, a video or a piece of text."""

import uuid

from django.db import models


class MediaKind(models.TextChoices):
    IMAGE = "image"
    VIDEO = "video"
    TEXT = "text"


def media_upload_path(media: "Media", filename: str) -> str:
    return f"{media.tenant_id}/{media.sha256[:2]}/{media.id}{media.extension}"


class Media(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="media")
    submission = models.ForeignKey(
        "jobs.Submission", on_delete=models.CASCADE, related_name="media", null=True, blank=True
    )
    # Deleting a post deletes its media (and, through them, every derived row and file).
    source_post = models.ForeignKey(
        "social.Post", on_delete=models.CASCADE, related_name="media", null=True, blank=True
    )
    kind = models.CharField(max_length=8, choices=MediaKind.choices)
    file = models.FileField(upload_to=media_upload_path, max_length=300, blank=True)
    text = models.TextField(blank=True, help_text="The text of a text item, or a caption.")
    original_name = models.CharField(max_length=255, blank=True)
    mime = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Set when retention removed the stored file and face data; the row and labels remain.
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"])]
        verbose_name_plural = "media"

    def __str__(self) -> str:
        return f"{self.kind} {self.original_name or self.id}"

    @property
    def extension(self) -> str:
        return {
            "image/jpeg": ".jpg",
            "image/png": ".png",
            "image/gif": ".gif",
            "image/webp": ".webp",
            "image/bmp": ".bmp",
            "image/tiff": ".tif",
            "video/mp4": ".mp4",
            "video/quicktime": ".mov",
            "video/webm": ".webm",
            "video/x-matroska": ".mkv",
            "text/plain": ".txt",
        }.get(self.mime, ".bin")
