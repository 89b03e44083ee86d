"""Requests per minute per API key: a DRF throttle over a fixed one-minute window.

The counter lives in Django's cache (Redis in production, shared by every web process):
``add`` then ``incr`` are atomic there, so concurrent requests cannot both take the last
slot. A fixed window lets a client send up to twice its limit across a window boundary;
that is the price of one atomic counter per key instead of a request log. If the cache
is unreachable, requests are let through and the failure is logged: the limit protects
capacity, it does not guard data.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from emotionhub.accounts.models import ApiKey
from emotionhub.core.errors import DomainError

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60
STATE_ATTRIBUTE = "emotionhub_rate_limit"


@dataclasses.dataclass(frozen=True)
class RateState:
    limit: int
    used: int
    reset_in: int  # seconds until the window ends

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_in),
        }


def rate_limit(key: ApiKey | None) -> int:
    """Requests per minute for the key (0: unlimited); session users get the default."""
    if key is not None and key.rate_limit_per_minute is not None:
        return key.rate_limit_per_minute
    return settings.EMOTIONHUB_RATE_LIMIT_PER_MINUTE


def _identity(request) -> tuple[str, ApiKey | None] | None:
    auth = getattr(request, "auth", None)
    if isinstance(auth, ApiKey):
        return f"key:{auth.pk}", auth
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}", None
    return None  # anonymous requests are refused or public (health), not counted


def count_request(ident: str, key: ApiKey | None) -> RateState | None:
    """Count one request of ``ident`` in this minute's window; raise 429 ``rate_limited``
    past the key's limit. None when unlimited or the cache is down (let through).

    Shared by the DRF throttle and the WebSocket stream, where a connection is a request.
    """
    limit = rate_limit(key)
    if not limit:
        return None
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    reset_in = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
    cache_key = f"ratelimit:{ident}:{window}"
    try:
        cache.add(cache_key, 0, timeout=WINDOW_SECONDS * 2)
        used = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=WINDOW_SECONDS * 2)
        used = 1
    except Exception:
        log.exception("rate limit cache unavailable; letting the request through")
        return None
    state = RateState(limit=limit, used=used, reset_in=reset_in)
    if used > limit:
        raise RateLimited(state)
    return state


class RateLimited(DomainError):
    def __init__(self, state: RateState) -> None:
        super().__init__(
            "rate_limited",
            f"More than {state.limit} requests in a minute; retry in {state.reset_in} s.",
            status=429,
            details={"limit_per_minute": state.limit, "retry_after_seconds": state.reset_in},
            retry_after=state.reset_in,  # X-RateLimit-*: RateLimitHeadersMiddleware
        )
        self.state = state


class ApiKeyRateThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        identity = _identity(request)
        if identity is None:
            return True
        try:
            state = count_request(*identity)
        except RateLimited as refused:
            setattr(request._request, STATE_ATTRIBUTE, refused.state)
            raise
        if state is not None:
            setattr(request._request, STATE_ATTRIBUTE, state)
        return True

    def wait(self) -> float | None:
        return None


class RateLimitHeadersMiddleware:
    """Adds X-RateLimit-* to every answer the throttle counted."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        state = getattr(request, STATE_ATTRIBUTE, None)
        if state is not None:
            for name, value in state.headers().items():
                response.setdefault(name, value)
        return response
