"""Signed webhook deliveries, sent through the one safe client (``emotionhub.core.http``).

Receivers verify ``X-EmotionHub-Signature: sha256=<hex>``, an HMAC-SHA256 of
``<timestamp>.<body>`` with the tenant's webhook secret; the timestamp is in
``X-EmotionHub-Timestamp`` so old deliveries can be refused.

The address check happens in the connection that sends the body (the socket is opened to
the address that was checked), so a DNS answer that changes after :func:`check_url` cannot
point a delivery at a private network.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from emotionhub.core.http import (
    Fetched,
    FetchError,
    SafeClient,
    UnsafeUrl,
    check_destination,
    check_url_shape,
    webhook_policy,
)

__all__ = ["FetchError", "UnsafeUrl", "check_url", "post", "sign"]

USER_AGENT = "EmotionHub-Webhook/1"


def check_url(url: str) -> None:
    """Refuse a webhook URL early (at submission), with the policy deliveries use."""
    policy = webhook_policy()
    if policy.allow_private:
        check_url_shape(url)  # private receivers allowed: the host need not resolve here
    else:
        check_destination(url, policy)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def post(url: str, secret: str, event: str, payload: dict) -> Fetched:
    """POST once; redirects are not followed (the next hop was never checked).

    Raises :class:`FetchError` (``unsafe_url``, ``timeout``, ``connection_failed``) when
    nothing was delivered.
    """
    body = json.dumps(
        payload, separators=(",", ":"), sort_keys=True, cls=DjangoJSONEncoder
    ).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-EmotionHub-Event": event,
        "X-EmotionHub-Timestamp": str(timestamp),
        "X-EmotionHub-Signature": sign(secret, timestamp, body),
    }
    with SafeClient(policy=webhook_policy, user_agent=USER_AGENT) as client:
        return client.post(
            url,
            data=body,
            headers=headers,
            timeout=settings.EMOTIONHUB_WEBHOOK_TIMEOUT_SECONDS,
            read_body=False,
        )
