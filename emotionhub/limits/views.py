"""``GET /api/v1/usage``: the calling key's limits and what it has used of them."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from emotionhub.accounts.principal import principal_for
from emotionhub.apibase.errors import ApiError
from emotionhub.limits import quota
from emotionhub.limits.throttling import STATE_ATTRIBUTE, rate_limit


class UsageView(APIView):
    """Any scope may read its own key's usage."""

    required_scopes: set[str] = set()

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        key = principal_for(request).api_key
        if key is None:
            raise ApiError(
                "api_key_required", "Usage is counted per API key; call with a key.", status=400
            )
        state = getattr(request._request, STATE_ATTRIBUTE, None)
        limit = rate_limit(key)
        daily = quota.daily_quota(key)
        used = quota.items_used(key)
        return Response(
            {
                "api_key": {"id": str(key.pk), "name": key.name, "prefix": key.prefix},
                "rate_limit": {
                    "limit_per_minute": limit or None,
                    "remaining": state.remaining if state else None,
                    "resets_in_seconds": state.reset_in if state else None,
                },
                "daily_items": {
                    "quota": daily or None,
                    "used": used,
                    "remaining": max(0, daily - used) if daily else None,
                    "resets_at": quota.next_reset().isoformat(),
                },
            }
        )
