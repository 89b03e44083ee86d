"""Bounds on the image decoding a web process does while validating a submission.

A small JPEG or WebP can declare 6300x6300 pixels (under the pixel limit): decoded it
holds over 100 MB, re-encoded without metadata as much again (PNGs are checked and cleaned
without decoding, ``media.pngcheck``). So at most
``EMOTIONHUB_WEB_DECODE_SLOTS`` uploads are decoded at once per process (others wait),
and a submission whose validation runs past ``EMOTIONHUB_VALIDATION_DEADLINE_SECONDS``
(waiting included) is refused with a JSON 503 before gunicorn's timeout would answer with
its HTML page. Nothing is written before validation ends, so the refusal loses nothing.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from django.conf import settings

from emotionhub.core.errors import DomainError

_slots: threading.BoundedSemaphore | None = None
_slots_lock = threading.Lock()


def _semaphore() -> threading.BoundedSemaphore:
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(max(1, settings.EMOTIONHUB_WEB_DECODE_SLOTS))
        return _slots


class ValidationDeadline:
    """The time a submission's validation may take, started when it begins."""

    def __init__(self) -> None:
        self.seconds = settings.EMOTIONHUB_VALIDATION_DEADLINE_SECONDS
        self.ends = time.monotonic() + self.seconds

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def check(self, field: str) -> None:
        if self.remaining() <= 0:
            raise self.refusal(field)

    def refusal(self, field: str) -> DomainError:
        retry_after = settings.EMOTIONHUB_OVERLOADED_RETRY_AFTER_SECONDS
        return DomainError(
            "validation_timeout",
            f"{field}: validating this submission took longer than {self.seconds:g} s; "
            "send fewer or smaller images per request.",
            status=503,
            details={"deadline_seconds": self.seconds, "retry_after_seconds": retry_after},
            retry_after=retry_after,
        )


@contextlib.contextmanager
def decode_slot(deadline: ValidationDeadline, field: str) -> Iterator[None]:
    """Hold one of the process's decode slots, waiting at most until the deadline."""
    slots = _semaphore()
    if not slots.acquire(timeout=max(deadline.remaining(), 0)):
        raise deadline.refusal(field)
    try:
        yield
    finally:
        slots.release()
