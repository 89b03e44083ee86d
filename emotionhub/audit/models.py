"""An append-only record of who read, exported, corrected or deleted which tenant data."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from emotionhub.audit.actions import Action


class AuditEvent(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # SET_NULL, not CASCADE: the trail of a deleted tenant, user or key must outlive them,
    # so the actor is also kept as text.
    tenant = models.ForeignKey(
        "accounts.Tenant", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_key = models.ForeignKey(
        "accounts.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor = models.CharField(max_length=200, blank=True, help_text="Username or key prefix.")
    # Values of emotionhub.audit.Action; no DB choices, so a new action needs no migration.
    action = models.CharField(max_length=32)
    obj_type = models.CharField(max_length=64)
    obj_id = models.CharField(max_length=64, blank=True)
    count = models.PositiveIntegerField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    method = models.CharField(max_length=8, blank=True)
    path = models.CharField(max_length=400, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"]),
            models.Index(fields=["tenant", "obj_type", "obj_id"]),
        ]

    def __str__(self) -> str:
        target = f"{self.obj_type} {self.obj_id}".strip()
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor or '-'} {self.action} {target}"

    @property
    def action_label(self) -> str:
        return Action(self.action).label if self.action in Action.values else self.action
