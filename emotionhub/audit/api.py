"""``GET /api/v1/audit-events``: the tenant's audit log, for keys with the ``admin`` scope."""

from __future__ import annotations

from typing import Any

import django_filters
from rest_framework import serializers, viewsets

from emotionhub.accounts.models import Scope
from emotionhub.apibase.filters import CreatedRangeFilterSet
from emotionhub.apibase.viewsets import TenantScopedMixin
from emotionhub.audit.actions import Action
from emotionhub.audit.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    actor_user: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "action",
            "obj_type",
            "obj_id",
            "count",
            "details",
            "actor",
            "actor_user",
            "actor_key",
            "ip",
            "user_agent",
            "method",
            "path",
        ]
        read_only_fields = fields


class AuditEventFilter(CreatedRangeFilterSet):
    action = django_filters.MultipleChoiceFilter(choices=Action.choices)

    class Meta:
        model = AuditEvent
        fields = ["action", "obj_type", "obj_id", "actor_key"]


class AuditEventViewSet(TenantScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Who viewed, exported, corrected or deleted what, newest first (admin scope)."""

    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    ordering_fields = ["created_at"]
    required_scopes = {Scope.ADMIN}

    def get_queryset(self):
        return self.tenant_queryset(AuditEvent.objects.select_related("actor_user"))
