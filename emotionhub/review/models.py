"""Human labels for analysis results, with their full history.

Every review is a new ``ReviewLabel`` row; the latest one per result and target is
``current`` (a partial unique index keeps it single), older ones stay as history of who
said what and when.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from emotionhub.jobs.models import AnalysisResult

POST_TARGET = "post"


def face_target(index: int) -> str:
    return f"face:{index}"


def track_target(track_id: int) -> str:
    """A face track of a video (``tracks[]`` with this ``track_id``)."""
    return f"track:{track_id}"


ADDED_PREFIX = "added:"


def added_target(number: int) -> str:
    """A face the detector missed, drawn by a reviewer (its box is on the label row)."""
    return f"{ADDED_PREFIX}{number}"


class ReviewLabel(models.Model):
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+")
    result = models.ForeignKey(
        "jobs.AnalysisResult", on_delete=models.CASCADE, related_name="review_labels"
    )
    # "post" for a whole-item label (text, image sentiment), "face:<i>" for faces[i],
    # "track:<id>" for a video's face track, "added:<n>" for a face the detector missed.
    target = models.CharField(max_length=32)
    model_label = models.CharField(max_length=32, blank=True)
    reviewed_label = models.CharField(max_length=32)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # A face a reviewer drew (added:<n>): x1, y1, x2, y2 in the stored image's pixels.
    box = models.JSONField(null=True, blank=True)
    reviewed_at = models.DateTimeField(auto_now_add=True)
    current = models.BooleanField(default=True)

    class Meta:
        ordering = ["-reviewed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["result", "target"],
                condition=models.Q(current=True),
                name="review_one_current_label",
            )
        ]
        indexes = [models.Index(fields=["tenant", "current", "-reviewed_at"])]

    def __str__(self) -> str:
        return f"{self.target}: {self.model_label} -> {self.reviewed_label}"

    @property
    def corrected(self) -> bool:
        return self.model_label != self.reviewed_label


class ReviewItem(AnalysisResult):
    """The review queue: analysis results as the admin shows them to reviewers."""

    class Meta:
        proxy = True
        verbose_name = "review item"
        verbose_name_plural = "review queue"
