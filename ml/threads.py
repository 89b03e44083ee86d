"""Torch thread count for CPU training on a shared machine, chosen by measured speed."""

from __future__ import annotations

import math

import numpy as np


class ThreadTuner:
    """Pick the faster torch thread count (e.g. 1 or 2) while training, and re-check it.

    On a shared 2-core machine with the job niced, the second OpenMP thread often sits on a
    core busy with a normal-priority process; every parallel region then waits for it and
    2 threads run ~3x slower than 1. Each ``period`` steps the alternative is timed for
    ``probe`` steps and adopted if it is >10 % faster. Thread count can change float
    summation order, so a run with ``--threads auto`` is not bit-reproducible.
    """

    def __init__(self, options: tuple[int, ...] = (1, 2), period: int = 150, probe: int = 8):
        self.options, self.period, self.probe = options, period, probe
        self.current = options[-1]
        self._alt: list[float] = []
        self._cur: list[float] = []

    def threads_for(self, step: int) -> int:
        """Thread count to use for global step ``step``."""
        pos = step % self.period
        if pos < self.probe:
            i = self.options.index(self.current)
            return (
                self.options[
                    (i + 1 + (step // self.period) % (len(self.options) - 1)) % len(self.options)
                ]
                if len(self.options) > 1
                else self.current
            )
        return self.current

    def record(self, step: int, threads: int, seconds: float) -> str | None:
        """Feed one step's time; returns a log message when the choice changes."""
        pos = step % self.period
        if pos in (0, self.probe):  # first step after a switch pays for re-planning
            return None
        (self._alt if pos < self.probe else self._cur).append(seconds)
        if pos == self.period - 1:
            alt = self.threads_for(step - pos)
            a = float(np.median(self._alt)) if self._alt else math.inf
            c = float(np.median(self._cur)) if self._cur else math.inf
            self._alt, self._cur = [], []
            if alt != self.current and a < 0.9 * c:
                old, self.current = self.current, alt
                return f"threads {old} -> {alt} ({c:.2f}s -> {a:.2f}s per step)"
        return None
