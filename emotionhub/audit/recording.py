"""Writing audit events: the single entry point is :func:`record`."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from django.conf import settings
from django.db import transaction

from emotionhub.audit.actions import Action

log = logging.getLogger("emotionhub.audit")


def record(
    action: Action | str,
    *,
    tenant,
    obj_type: str,
    obj_id: Any = None,
    actor_user=None,
    actor_key=None,
    count: int | None = None,
    details: dict | None = None,
    request=None,
    strict: bool = True,
):
    """Append one audit event and return it.

    ``tenant``: a Tenant, its id, or None (operator actions across tenants). The actor
    defaults to the request's API key or signed-in user; ``request`` also gives the IP,
    user agent, method and path. The event is written in its own savepoint, so inside the
    caller's transaction it commits or rolls back with the audited change.

    ``strict=True`` (the default) raises when the event cannot be written, so the caller's
    action fails too: exports, corrections, deletions and purges must not happen
    unrecorded. ``strict=False`` logs the failure and returns None: reads of data that
    changes nothing are served even when their event is lost.
    """
    from emotionhub.audit.models import AuditEvent

    action = Action(action)  # ValueError for a typo, whatever ``strict`` says
    if request is not None:
        actor_key = actor_key if actor_key is not None else _request_key(request)
        actor_user = actor_user if actor_user is not None else _request_user(request)
    event = AuditEvent(
        tenant_id=getattr(tenant, "pk", tenant),
        actor_user=actor_user,
        actor_key=actor_key,
        actor=_actor_label(actor_user, actor_key),
        action=action.value,
        obj_type=obj_type[:64],
        obj_id="" if obj_id is None else str(obj_id)[:64],
        count=count,
        details=details or {},
        **_request_fields(request),
    )
    try:
        with transaction.atomic():
            event.save()
    except Exception:
        if strict:
            raise
        log.exception("audit event lost: %s %s %s", action.value, obj_type, obj_id)
        return None
    return event


def _request_key(request):
    from emotionhub.accounts.models import ApiKey

    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiKey) else None


def _request_user(request):
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _actor_label(user, key) -> str:
    parts = []
    if user is not None:
        parts.append(user.get_username())
    if key is not None:
        parts.append(f"key {key.prefix}")
    return " / ".join(parts)[:200]


def _request_fields(request) -> dict:
    if request is None:
        return {}
    meta = request.META
    return {
        "ip": client_ip(meta),
        "user_agent": meta.get("HTTP_USER_AGENT", "")[:400],
        "method": request.method or "",
        "path": request.path[:400],
    }


def client_ip(meta) -> str | None:
    """REMOTE_ADDR, or the address ``EMOTIONHUB_TRUSTED_PROXY_HOPS`` proxies reported.

    X-Forwarded-For is only believed for as many hops as the deployment says it has:
    anything further left was written by the client and can be forged.
    """
    address = meta.get("REMOTE_ADDR", "")
    hops = getattr(settings, "EMOTIONHUB_TRUSTED_PROXY_HOPS", 0)
    forwarded = [a.strip() for a in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if hops > 0 and len(forwarded) >= hops:
        address = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
