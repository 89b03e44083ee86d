"""Short-lived, single-use stream tokens: browsers cannot set headers on a WebSocket, so a
signed-in page (or a client holding an API key) trades its credentials for a token that
goes in the stream URL's query string.

A token is signed with ``SECRET_KEY`` (``django.core.signing``), names the API key or user
it acts for, expires after ``EMOTIONHUB_STREAM_TOKEN_SECONDS`` and is accepted once (its
nonce is claimed in the cache, shared by every process through Redis in production). The
key or membership is looked up again when the token is used, so revoking either stops new
streams at once.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.cache import cache
from django.utils import timezone

from emotionhub.accounts.models import ApiKey
from emotionhub.accounts.principal import Principal

SALT = "emotionhub.realtime.stream-token"


class InvalidToken(Exception):
    """Unknown, tampered, expired or already used."""


def issue(principal: Principal, user=None) -> tuple[str, dt.datetime]:
    """A token acting for ``principal``'s API key, or for the signed-in ``user``."""
    key = principal.api_key
    subject = {"k": str(key.pk)} if key is not None else {"u": user.pk}
    token = signing.dumps({**subject, "n": secrets.token_urlsafe(12)}, salt=SALT, compress=True)
    lifetime = settings.EMOTIONHUB_STREAM_TOKEN_SECONDS
    return token, timezone.now() + dt.timedelta(seconds=lifetime)


def redeem(token: str) -> tuple[Principal, object | None]:
    """The principal (and user, for a signed-in page's token) a valid, unused token acts
    for; it cannot be used again."""
    lifetime = settings.EMOTIONHUB_STREAM_TOKEN_SECONDS
    try:
        claims = signing.loads(token, salt=SALT, max_age=lifetime)
    except signing.SignatureExpired:
        raise InvalidToken("the stream token has expired; get a new one") from None
    except signing.BadSignature:
        raise InvalidToken("the stream token is not valid") from None
    if not cache.add(f"stream-token:{claims.get('n')}", 1, timeout=lifetime + 5):
        raise InvalidToken("the stream token was already used; get a new one")
    if "k" in claims:
        key = ApiKey.objects.usable().select_related("tenant").filter(pk=claims["k"]).first()
        if key is None:
            raise InvalidToken("the API key behind the token is revoked or expired")
        return Principal(key.tenant, frozenset(key.scopes), key), None
    user = (
        get_user_model()
        .objects.filter(pk=claims.get("u"), is_active=True)
        .select_related("membership__tenant")
        .first()
    )
    membership = getattr(user, "membership", None) if user else None
    if membership is None:
        raise InvalidToken("the user behind the token has no tenant membership")
    return Principal(membership.tenant, frozenset(membership.scopes)), user
