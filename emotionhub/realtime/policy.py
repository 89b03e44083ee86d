"""What a real-time request may run: the same rules as a submission, checked in one place
for ``POST /analyze`` and the ``/stream`` WebSocket.

Analyzers must be enabled and declare real-time support (``not_realtime`` otherwise);
per-analyzer settings must fit their schema; the tenant's purpose rule and consent policy
apply exactly as for image submissions; ``EMOTIONHUB_REALTIME_ANALYZER_SETTINGS`` are applied
under the caller's settings; every analysed frame is one item of the key's daily
quota (rate limits are the API's: per HTTP request, per WebSocket connection).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable

from django.conf import settings

from emotionhub.accounts.models import Scope
from emotionhub.accounts.principal import Principal
from emotionhub.accounts.purpose import check_face_emotion_allowed
from emotionhub.analyzers import registry
from emotionhub.core import jsonlimits
from emotionhub.core.errors import DomainError
from emotionhub.jobs.models import Consent
from emotionhub.jobs.submissions import check_analyzer_options, check_analyzer_settings

#: The capability of the analyzers a request that names none runs (the webcam's use).
DEFAULT_CAPABILITY = "faces"


def default_analyzers() -> tuple[str, ...]:
    """The enabled real-time analyzers that report faces, asked of the registry so the
    core names no plugin (with the shipped plugins: ``facial_emotion``)."""
    producing = registry.analyzers_producing(DEFAULT_CAPABILITY)
    return tuple(name for name in registry.realtime_names() if name in producing)


@dataclasses.dataclass(frozen=True)
class RealtimePlan:
    """A checked real-time request: which analyzers run with which settings."""

    analyzers: tuple[str, ...]
    analyzer_settings: dict[str, dict]
    consent: str


def parse_analyzers(value) -> list[str] | None:
    """``analyzers`` as a comma list or a repeated field; None when absent."""
    if value in (None, "", []):
        return None
    values = value if isinstance(value, list | tuple) else [value]
    names = [part.strip() for v in values for part in str(v).split(",") if part.strip()]
    return names or None


def parse_settings(value) -> dict:
    """``analyzer_settings`` as a JSON object (a string in forms and query strings)."""
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = jsonlimits.loads(value)
        except json.JSONDecodeError as exc:
            raise DomainError(
                "invalid_analyzer_settings",
                f"analyzer_settings is not valid JSON ({exc.msg}).",
                status=400,
            ) from None
    if not isinstance(value, dict):
        raise DomainError(
            "invalid_analyzer_settings", "analyzer_settings must be a JSON object.", status=400
        )
    return value


def check_scope(principal: Principal | None) -> Principal:
    if principal is None:
        raise DomainError("not_authenticated", "Send an API key or a stream token.", status=401)
    if Scope.ADMIN not in principal.scopes and Scope.SUBMIT not in principal.scopes:
        raise DomainError(
            "permission_denied", "Real-time analysis needs the `submit` scope.", status=403
        )
    return principal


def plan(
    principal: Principal,
    analyzers: Iterable[str] | None,
    analyzer_settings: dict,
    consent: str = Consent.UNKNOWN,
) -> RealtimePlan:
    """Check a real-time request; raise :class:`DomainError` with the submission codes."""
    names = list(dict.fromkeys(analyzers or default_analyzers()))
    enabled = registry.enabled_names()
    if not names:
        raise DomainError(
            "unknown_analyzer",
            f"No enabled real-time analyzer reports {DEFAULT_CAPABILITY}; name the analyzers "
            "to run.",
            status=400,
            details={"unknown": [], "available": enabled},
        )
    registry.check_enabled(names)
    realtime = registry.realtime_names()
    slow = [name for name in names if name not in realtime]
    if slow:
        raise DomainError(
            "not_realtime",
            f"{', '.join(slow)} cannot run in real time; submit the media to /submissions "
            f"instead. Real-time analyzers: {', '.join(realtime) or 'none'}.",
            status=400,
            details={"not_realtime": slow, "realtime": realtime},
        )
    check_analyzer_settings(analyzer_settings, names, what="request")
    if consent not in Consent.values:
        raise DomainError(
            "invalid_request",
            f"consent must be one of {', '.join(Consent.values)}.",
            status=400,
            details={"consent": [f"{consent!r} is not a valid choice."]},
        )
    check_face_emotion_allowed(principal.tenant, names)
    tenant = principal.tenant
    if tenant.require_consent and consent not in (Consent.GIVEN, Consent.NOT_REQUIRED):
        raise DomainError(
            "consent_required",
            "This tenant requires consent for images and videos, live frames included: "
            "send consent=given (the people shown agreed) or consent=not_required; see "
            "docs/responsible-use.md.",
            status=422,
            details={"allowed": [Consent.GIVEN, Consent.NOT_REQUIRED]},
        )
    defaults = settings.EMOTIONHUB_REALTIME_ANALYZER_SETTINGS
    merged = {n: {**defaults.get(n, {}), **analyzer_settings.get(n, {})} for n in names}
    for name in names:  # the server's defaults must fit the schema too (a typo'd setting)
        check_analyzer_options(name, merged[name])
    return RealtimePlan(tuple(names), merged, consent)
