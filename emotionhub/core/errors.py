"""A plain domain error that any layer may raise and only the API layer turns into HTTP.

Domain code (validation, quotas, purpose rules, signed pushes) says *what* is wrong with a
stable ``code``; ``status`` is a hint for the API layer's exception handler
(``emotionhub.apibase.errors.exception_handler``), which maps it to the one error shape. Workers
and Celery tasks catch the same class without importing DRF.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DomainError(Exception):
    """A refusal with a stable machine-readable ``code`` and a message for people.

    ``status`` is the HTTP status the API answers with; ``details`` is a JSON-able mapping
    added to the error body; ``retry_after`` (seconds) becomes a ``Retry-After`` header.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 400,
        details: Mapping[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = dict(details) if details else None
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, status={self.status})"
