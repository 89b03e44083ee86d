"""Signed webhook deliveries, and the address check that keeps them off private networks.

Receivers verify ``X-EmotionHub-Signature: sha256=<hex>``, an HMAC-SHA256 of
``<timestamp>.<body>`` with the tenant's webhook secret; the timestamp is in
``X-EmotionHub-Timestamp`` so old deliveries can be refused.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import time
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder


class UnsafeUrl(ValueError):
    """The URL is not http(s), or resolves to an address we must not call."""


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("only http(s) URLs with a host name are allowed")
    if settings.EMOTIONHUB_WEBHOOK_ALLOW_PRIVATE:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise UnsafeUrl(f"host {parts.hostname!r} does not resolve") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise UnsafeUrl(f"host {parts.hostname!r} resolves to a non-public address")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def post(url: str, secret: str, event: str, payload: dict) -> requests.Response:
    """POST once; redirects are not followed (the next hop was never checked)."""
    check_url(url)
    body = json.dumps(
        payload, separators=(",", ":"), sort_keys=True, cls=DjangoJSONEncoder
    ).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "EmotionHub-Webhook/1",
        "X-EmotionHub-Event": event,
        "X-EmotionHub-Timestamp": str(timestamp),
        "X-EmotionHub-Signature": sign(secret, timestamp, body),
    }
    return requests.post(
        url,
        data=body,
        headers=headers,
        allow_redirects=False,
        timeout=settings.EMOTIONHUB_WEBHOOK_TIMEOUT_SECONDS,
    )
