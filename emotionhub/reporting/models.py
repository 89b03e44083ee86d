"""Reporting's own tables: a fact row per analysis result, brands, and fired alerts.

Dashboards aggregate ``ResultFact`` rather than ``AnalysisResult.payload``: the few numbers a
chart needs (polarity, label, emotion, confidence) are pulled out of the JSON once, next to
the joins they need (post, source, media kind) and the time they are charted by, so every
dashboard query is an index range scan over narrow rows (see bench/dashboard.py).
"""

from __future__ import annotations

import uuid

from django.db import models


class ResultFact(models.Model):
    """The chartable facts of one analysis result (filled by ``reporting.facts.sync``)."""

    result = models.OneToOneField(
        "jobs.AnalysisResult", on_delete=models.CASCADE, primary_key=True, related_name="fact"
    )
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+")
    media = models.ForeignKey("media.Media", on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(
        "social.Post", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.ForeignKey(
        "social.Source", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    analyzer = models.CharField(max_length=100)
    model_version = models.CharField(max_length=100, blank=True)
    media_kind = models.CharField(max_length=8)
    # When the thing happened: the post's time, else when the media was submitted.
    occurred_at = models.DateTimeField()
    result_created_at = models.DateTimeField(db_index=True)
    # Sentiment label for sentiment analyzers, the dominant expression for faces.
    label = models.CharField(max_length=32, blank=True)
    # Sentiment vote in [-1, 1] (text_sentiment, image_sentiment); null: no vote.
    polarity = models.FloatField(null=True, blank=True)
    # The model's confidence; for faces, the least confident face (what needs review).
    confidence = models.FloatField(null=True, blank=True)
    emotion = models.CharField(max_length=32, blank=True)
    face_count = models.PositiveIntegerField(default=0)
    disagreement = models.BooleanField(default=False)
    # False once a newer result of the same media and analyzer (a new model) exists, so
    # a re-run never counts one item twice.
    current = models.BooleanField(default=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["tenant", "occurred_at"],
                name="fact_tenant_time",
                condition=models.Q(current=True),
            ),
            models.Index(
                fields=["tenant", "source", "occurred_at"],
                name="fact_tenant_source_time",
                condition=models.Q(current=True),
            ),
            models.Index(fields=["media", "analyzer"], name="fact_media_analyzer"),
        ]

    def __str__(self) -> str:
        return f"fact {self.result_id}"


class Brand(models.Model):
    """A brand or campaign: the sources and keywords whose posts its dashboard covers."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="brands")
    name = models.CharField(max_length=200)
    sources = models.ManyToManyField("social.Source", blank=True, related_name="brands")
    keywords = models.JSONField(
        default=list,
        blank=True,
        help_text="Posts or texts containing any of these (case-insensitive) belong to the "
        "brand too. No sources and no keywords: everything of the tenant.",
    )
    alert_webhook_url = models.URLField(max_length=1000, blank=True)
    alert_emails = models.JSONField(default=list, blank=True)
    baseline_days = models.PositiveIntegerField(
        default=7, help_text="Alerts compare the last 24 hours with this many days before."
    )
    volume_change = models.FloatField(
        default=1.0,
        help_text="Volume alert when the last 24 h are >= baseline x (1 + this), or <= "
        "baseline / (1 + this).",
    )
    sentiment_change = models.FloatField(
        default=0.3, help_text="Sentiment alert when mean polarity moves by this much."
    )
    min_volume = models.PositiveIntegerField(
        default=20, help_text="No alert from windows with fewer items than this."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="brand_unique_name")]

    def __str__(self) -> str:
        return self.name


class AlertKind(models.TextChoices):
    VOLUME = "volume"
    SENTIMENT = "sentiment"


class Alert(models.Model):
    """A sharp move from the baseline, recorded once per brand, kind and hour."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+")
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=16, choices=AlertKind.choices)
    direction = models.CharField(max_length=8)  # "up" or "down"
    window_end = models.DateTimeField(help_text="End of the 24 h window, to the hour.")
    value = models.FloatField()
    baseline = models.FloatField()
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    webhook_status = models.CharField(max_length=16, blank=True)
    webhook_error = models.TextField(blank=True)
    emailed_to = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-window_end"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "kind", "direction", "window_end"], name="alert_once_per_hour"
            )
        ]

    def __str__(self) -> str:
        return self.message
