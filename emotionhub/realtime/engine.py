"""Micro-batching inference for the real-time path, one batcher thread per analyzer.

Where inference runs: in the serving (ASGI) process, never on its event loop. Each
real-time analyzer is loaded once per process (``registry.loaded_analyzer``) and owned by
one batcher thread. Callers (HTTP requests, WebSocket streams) hand it frames and wait on
a future; the thread runs the frames of several callers through the detector and
classifier together.

Each caller (a stream, or one HTTP request) is a *source* with one slot: a newer frame of a
stream replaces its frame still waiting in the slot, whose future fails with
:class:`Superseded` (the stream reports it as dropped). The thread takes the waiting slots
of the least recently served sources, so every frame analysed is its stream's newest and
no stream starves, and frames are decoded only when taken (a dropped frame costs nothing).

How big a batch is: at most ``EMOTIONHUB_REALTIME_MAX_BATCH`` (and the analyzer's batch
size), and at most as many frames as fit ``EMOTIONHUB_REALTIME_LATENCY_BUDGET_MS`` at the
per-frame time measured so far: on a small CPU, where a batch costs about as much per frame
as single frames, that keeps one batch short, so latency stays bounded by dropping frames
instead of growing with the number of streams; on CUDA, where a frame costs little in a
batch, batches fill up. How long a batch waits to fill: when fewer slots are waiting than
sources sent a frame in the last ``ACTIVE_SOURCE_SECONDS``, at most
``EMOTIONHUB_REALTIME_BATCH_WAIT_MS`` for the others; a lone stream never waits.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from django.conf import settings

from emotionhub.analyzers import registry
from emotionhub.analyzers.contract import AnalyzerError, Frame, Result
from emotionhub.analyzers.runner import run_frames

log = logging.getLogger(__name__)

#: A source that sent a frame this recently is expected to send the next one soon.
ACTIVE_SOURCE_SECONDS = 1.0
#: Weight of the newest batch in the per-frame time estimate (exponential average).
PER_FRAME_EMA = 0.2


class Superseded(Exception):
    """A newer frame of the same source replaced this one before it was analysed."""


@dataclasses.dataclass(frozen=True)
class FrameOutcome:
    """What one frame got from one analyzer, with the batch it ran in."""

    result: Result | None
    error: AnalyzerError | None
    queue_ms: float  # submitted -> its batch started
    inference_ms: float  # the batch's analyze_frames wall time
    batch_size: int
    device: str
    decode_ms: float = 0.0  # when the batcher decoded it (streams)


#: What a slot holds: a ready Frame, or a function decoding one -> (Frame, decode ms); it
#: may raise (a bad frame), which fails that frame's future only.
FrameSource = Frame | Callable[[], tuple[Frame, float]]


@dataclasses.dataclass
class _Pending:
    frame: FrameSource
    future: Future
    submitted: float
    source: str


class MicroBatcher:
    """Owns one loaded analyzer; ``submit`` is thread-safe and returns a Future."""

    def __init__(self, name: str, *, max_batch: int, wait_s: float | None = None) -> None:
        self.name = name
        self.max_batch = max(1, max_batch)
        self.fixed_wait_s = wait_s  # None: EMOTIONHUB_REALTIME_BATCH_WAIT_MS, read per batch
        self.analyzer, self.device = registry.loaded_analyzer(name)
        self.batch_sizes: collections.Counter[int] = collections.Counter()
        self.per_frame_ms: float | None = None
        self._cond = threading.Condition()
        self._slots: dict[str, _Pending] = {}
        self._last_seen: dict[str, float] = {}  # source -> last submission
        self._served: dict[str, float] = {}  # source -> last time a frame of it was taken
        self._thread = threading.Thread(target=self._loop, name=f"realtime-{name}", daemon=True)
        self._thread.start()

    def submit(self, frame: FrameSource, source: str) -> Future:
        """Put ``frame`` in ``source``'s slot, replacing (superseding) a frame waiting there."""
        future: Future = Future()
        now = time.perf_counter()
        with self._cond:
            replaced = self._slots.get(source)
            self._slots[source] = _Pending(frame, future, now, source)
            self._last_seen[source] = now
            self._cond.notify()
        if replaced is not None and replaced.future.set_running_or_notify_cancel():
            replaced.future.set_exception(Superseded())
        return future

    def withdraw(self, source: str) -> None:
        """Forget ``source`` (a stream that closed): its waiting frame is not analysed."""
        with self._cond:
            pending = self._slots.pop(source, None)
            self._last_seen.pop(source, None)
            self._served.pop(source, None)
        if pending is not None:
            pending.future.cancel()

    def batch_limit(self) -> int:
        """Frames per batch: the configured maximum, within the latency budget."""
        budget = settings.EMOTIONHUB_REALTIME_LATENCY_BUDGET_MS
        if not budget or not self.per_frame_ms:
            return self.max_batch
        return max(1, min(self.max_batch, int(budget / self.per_frame_ms)))

    def _active_sources(self, now: float) -> int:
        horizon = now - ACTIVE_SOURCE_SECONDS
        self._last_seen = {s: t for s, t in self._last_seen.items() if t >= horizon}
        return len(self._last_seen)

    def _collect(self) -> list[_Pending]:
        with self._cond:
            while not self._slots:
                self._cond.wait()
            wait_s = self.fixed_wait_s
            if wait_s is None:
                wait_s = max(0.0, settings.EMOTIONHUB_REALTIME_BATCH_WAIT_MS / 1000)
            limit = self.batch_limit()
            now = time.perf_counter()
            expected = min(limit, self._active_sources(now))
            deadline = now + wait_s
            while len(self._slots) < expected:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            chosen = sorted(self._slots, key=lambda source: self._served.get(source, 0.0))
            now = time.perf_counter()
            batch = []
            for source in chosen[:limit]:
                batch.append(self._slots.pop(source))
                self._served[source] = now
        return [p for p in batch if p.future.set_running_or_notify_cancel()]

    def _loop(self) -> None:
        _limit_torch_threads()
        while True:
            batch, frames, decode_ms = [], [], []
            for pending in self._collect():
                if isinstance(pending.frame, Frame):
                    frame, spent = pending.frame, 0.0
                else:
                    try:
                        frame, spent = pending.frame()
                    except Exception as exc:  # a bad frame fails alone
                        pending.future.set_exception(exc)
                        continue
                batch.append(pending)
                frames.append(frame)
                decode_ms.append(spent)
            if not batch:
                continue
            started = time.perf_counter()
            try:
                outcomes = run_frames(self.analyzer, frames)
            except BaseException as exc:  # run_frames catches plugin errors; this is a bug
                log.exception("real-time batch of %s failed", self.name)
                for pending in batch:
                    pending.future.set_exception(exc)
                continue
            inference_ms = (time.perf_counter() - started) * 1000
            self.batch_sizes[len(batch)] += 1
            per_frame = inference_ms / len(batch)
            self.per_frame_ms = (
                per_frame
                if self.per_frame_ms is None
                else self.per_frame_ms + PER_FRAME_EMA * (per_frame - self.per_frame_ms)
            )
            for pending, outcome, spent in zip(batch, outcomes, decode_ms, strict=True):
                pending.future.set_result(
                    FrameOutcome(
                        outcome.result,
                        outcome.error,
                        queue_ms=(started - pending.submitted) * 1000,
                        inference_ms=inference_ms,
                        batch_size=len(batch),
                        device=self.device,
                        decode_ms=spent,
                    )
                )


def _limit_torch_threads() -> None:
    """``EMOTIONHUB_REALTIME_TORCH_THREADS`` intra-op threads for this batcher thread (0:
    torch's default). One is the default: with a thread per core and other processes on
    the cores, OpenMP threads wait on each other and a 40 ms frame takes seconds."""
    threads = settings.EMOTIONHUB_REALTIME_TORCH_THREADS
    if not threads:
        return
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


_batchers: dict[str, MicroBatcher] = {}
_lock = threading.Lock()


def batcher(name: str) -> MicroBatcher:
    """The process's batcher for analyzer ``name``, loading the analyzer on first use."""
    with _lock:
        if name not in _batchers:
            spec = registry.get_spec(name)
            _batchers[name] = MicroBatcher(
                name,
                max_batch=min(settings.EMOTIONHUB_REALTIME_MAX_BATCH, spec.max_batch_size),
            )
        return _batchers[name]


def batch_size_counts() -> dict[str, dict[int, int]]:
    """Batches formed so far per analyzer: ``{name: {batch size: count}}``."""
    with _lock:
        return {name: dict(b.batch_sizes) for name, b in _batchers.items()}


def preload() -> None:
    """Load every real-time analyzer and run one blank frame through it with the
    real-time default settings, so the first caller does not wait for model loading."""
    import numpy as np

    blank = np.zeros((480, 640, 3), dtype=np.uint8)
    defaults = settings.EMOTIONHUB_REALTIME_ANALYZER_SETTINGS
    for name in registry.realtime_names():
        warm_up = Frame("warm-up", blank, defaults.get(name, {}))
        batcher(name).submit(warm_up, "warm-up").result()
        batcher(name).withdraw("warm-up")
