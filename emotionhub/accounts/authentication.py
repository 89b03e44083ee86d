"""``Authorization: Api-Key <key>`` (or ``Bearer <key>``) authentication for the API."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from rest_framework import authentication, exceptions

from emotionhub.accounts.models import ApiKey, hash_key

SCHEMES = ("api-key", "bearer")


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace")
        key = api_key_for_header(header)
        return None if key is None else (AnonymousUser(), key)

    def authenticate_header(self, request) -> str:
        return 'Api-Key realm="emotionhub"'


def api_key_for_header(header: str) -> ApiKey | None:
    """The usable key an ``Authorization`` header names; None when the header is absent or
    another scheme; ``AuthenticationFailed`` when it names no usable key. Shared by the
    REST API and the WebSocket stream."""
    if not header:
        return None
    scheme, _, raw_key = header.partition(" ")
    if scheme.lower() not in SCHEMES:
        return None
    raw_key = raw_key.strip()
    if not raw_key:
        raise exceptions.AuthenticationFailed("The API key is missing after the scheme.")
    key = (
        ApiKey.objects.usable()
        .select_related("tenant")
        .filter(hashed_key=hash_key(raw_key))
        .first()
    )
    if key is None:
        raise exceptions.AuthenticationFailed("Invalid, expired or revoked API key.")
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key
