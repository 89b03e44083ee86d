"""Where posts come from and the posts themselves; connectors fill these on a schedule."""

import uuid

from django.db import models


class SourceKind(models.TextChoices):
    RSS = "rss", "RSS/Atom feed"
    MASTODON = "mastodon", "Mastodon timeline"
    REDDIT = "reddit", "Reddit subreddit"
    BLUESKY = "bluesky", "Bluesky search"
    WEBHOOK = "webhook", "Pushed by webhook"


class Source(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="sources")
    kind = models.CharField(max_length=16, choices=SourceKind.choices)
    name = models.CharField(max_length=200)
    config = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Post(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="posts")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="posts")
    external_id = models.CharField(max_length=255)
    url = models.URLField(max_length=1000, blank=True)
    author = models.CharField(max_length=255, blank=True)
    text = models.TextField(blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    ingested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="post_unique_per_source")
        ]

    def __str__(self) -> str:
        return f"{self.source}: {self.external_id}"
