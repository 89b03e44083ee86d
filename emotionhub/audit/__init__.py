"""Audit log: ``record(action, *, tenant, obj_type, ...)`` appends one ``AuditEvent``.

Importable before the app registry is ready (the model is imported on first call).
"""

from emotionhub.audit.actions import Action
from emotionhub.audit.recording import record

__all__ = ["Action", "record"]
