"""Which tenants may run analyzers that infer emotion from faces.

The EU AI Act (Art. 5(1)(f)) prohibits emotion recognition in the workplace and in
education institutions. A tenant declares its purpose; analyzers declare
``infers_emotion_from_faces`` in their spec. Submissions, social sources and the worker all
ask :func:`face_emotion_refusal`, so the rule lives in one place (docs/responsible-use.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from emotionhub.accounts.models import AnalysisPurpose, Tenant
from emotionhub.analyzers import registry
from emotionhub.core.errors import DomainError

DOCS = "docs/responsible-use.md"
#: Purposes for which emotion inference on faces is never run.
PROHIBITED_PURPOSES = frozenset({AnalysisPurpose.WORKPLACE, AnalysisPurpose.EDUCATION})


@dataclasses.dataclass(frozen=True)
class Refusal:
    """Why face-emotion analyzers may not run for a tenant (code is machine-readable)."""

    code: str
    message: str
    analyzers: list[str]
    purpose: str

    @property
    def details(self) -> dict:
        return {"purpose": self.purpose, "analyzers": self.analyzers, "docs": DOCS}


def face_emotion_analyzers(names: Iterable[str]) -> list[str]:
    """The analyzers among ``names`` whose spec says they infer emotion from faces."""
    return sorted(name for name in set(names) if registry.get_spec(name).infers_emotion_from_faces)


def face_emotion_refusal(
    purpose: str, analyzers: Iterable[str], *, require_declared: bool = True
) -> Refusal | None:
    """None when ``analyzers`` may run for a tenant with ``purpose``.

    ``require_declared``: refuse an undeclared purpose too (new work); the worker passes
    False, so jobs queued before a purpose was required are not failed for missing paperwork.
    """
    faces = face_emotion_analyzers(analyzers)
    if not faces:
        return None
    if purpose in PROHIBITED_PURPOSES:
        label = AnalysisPurpose(purpose).label
        return Refusal(
            "purpose_prohibited",
            f"Emotion inference on faces ({', '.join(faces)}) is not available for the "
            f"purpose {purpose!r} ({label}): the EU AI Act, Art. 5(1)(f), prohibits emotion "
            f"recognition in workplaces and education institutions. Choose analyzers that do "
            f"not read faces (e.g. text_sentiment); see {DOCS}.",
            faces,
            purpose,
        )
    if require_declared and purpose == AnalysisPurpose.UNDECLARED:
        return Refusal(
            "purpose_undeclared",
            f"Emotion inference on faces ({', '.join(faces)}) needs a declared purpose: an "
            f"administrator sets the tenant's purpose (admin, or `manage.py create_api_key "
            f"--purpose`); see {DOCS}.",
            faces,
            purpose,
        )
    return None


def check_face_emotion_allowed(tenant: Tenant, analyzers: Iterable[str]) -> None:
    """Raise 403 ``purpose_prohibited`` / ``purpose_undeclared`` for new work (API, sources)."""
    refusal = face_emotion_refusal(tenant.purpose, analyzers)
    if refusal:
        raise DomainError(refusal.code, refusal.message, status=403, details=refusal.details)
