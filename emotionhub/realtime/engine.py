"""Micro-batching inference for the real-time path, one batcher thread per analyzer.

Where inference runs: in the serving (ASGI) process, never on its event loop. Each
real-time analyzer is loaded once per process (``registry.loaded_analyzer``) and owned by
one batcher thread. Callers (HTTP requests, WebSocket streams) hand it decoded frames and
wait on a future; the thread runs every frame waiting through the detector and classifier
together, up to ``EMOTIONHUB_REALTIME_MAX_BATCH``.

How long a batch waits to fill: each frame names its source (a stream, or one HTTP
request). The batcher counts the sources that sent a frame in the last
``ACTIVE_SOURCE_SECONDS``; when fewer frames than that are waiting, it waits at most
``EMOTIONHUB_REALTIME_BATCH_WAIT_MS`` for the others. A lone stream therefore never waits,
and concurrent streams, whose frames would otherwise alternate in batches of one (each
stream sends its next frame only after its answer), meet in one batch. On CUDA that is
where batching pays; on a small CPU it costs about the same per frame either way.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import queue
import threading
import time
from concurrent.futures import Future

from django.conf import settings

from emotionhub.analyzers import registry
from emotionhub.analyzers.contract import AnalyzerError, Frame, Result
from emotionhub.analyzers.runner import run_frames

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class FrameOutcome:
    """What one frame got from one analyzer, with the batch it ran in."""

    result: Result | None
    error: AnalyzerError | None
    queue_ms: float  # submitted -> its batch started
    inference_ms: float  # the batch's analyze_frames wall time
    batch_size: int
    device: str


#: A source that sent a frame this recently is expected to send the next one soon.
ACTIVE_SOURCE_SECONDS = 1.0


@dataclasses.dataclass
class _Pending:
    frame: Frame
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
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._last_seen: dict[str, float] = {}  # source -> last submission (batcher thread)
        self._thread = threading.Thread(target=self._loop, name=f"realtime-{name}", daemon=True)
        self._thread.start()

    def submit(self, frame: Frame, source: str = "") -> Future:
        """Queue ``frame``; ``source`` (a stream id) tells the batcher who sends again."""
        future: Future = Future()
        self._queue.put(_Pending(frame, future, time.perf_counter(), source or frame.id))
        return future

    def _active_sources(self, now: float) -> int:
        horizon = now - ACTIVE_SOURCE_SECONDS
        self._last_seen = {s: t for s, t in self._last_seen.items() if t >= horizon}
        return len(self._last_seen)

    def _collect(self) -> list[_Pending]:
        batch = [self._queue.get()]
        while len(batch) < self.max_batch:  # everything already waiting
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        now = time.perf_counter()
        for pending in batch:
            self._last_seen[pending.source] = now
        wait_s = self.fixed_wait_s
        if wait_s is None:
            wait_s = max(0.0, settings.EMOTIONHUB_REALTIME_BATCH_WAIT_MS / 1000)
        expected = min(self.max_batch, self._active_sources(now))
        deadline = now + wait_s
        while len(batch) < expected and (remaining := deadline - time.perf_counter()) > 0:
            try:
                pending = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            batch.append(pending)
            if pending.source not in {p.source for p in batch[:-1]}:
                self._last_seen[pending.source] = time.perf_counter()
            else:  # a second frame of one source: its peers are late, do not wait longer
                break
        return [p for p in batch if p.future.set_running_or_notify_cancel()]

    def _loop(self) -> None:
        _limit_torch_threads()
        while True:
            batch = self._collect()
            if not batch:
                continue
            started = time.perf_counter()
            try:
                outcomes = run_frames(self.analyzer, [p.frame for p in batch])
            except BaseException as exc:  # run_frames catches plugin errors; this is a bug
                log.exception("real-time batch of %s failed", self.name)
                for pending in batch:
                    pending.future.set_exception(exc)
                continue
            inference_ms = (time.perf_counter() - started) * 1000
            self.batch_sizes[len(batch)] += 1
            for pending, outcome in zip(batch, outcomes, strict=True):
                pending.future.set_result(
                    FrameOutcome(
                        outcome.result,
                        outcome.error,
                        queue_ms=(started - pending.submitted) * 1000,
                        inference_ms=inference_ms,
                        batch_size=len(batch),
                        device=self.device,
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
        batcher(name).submit(Frame("warm-up", blank, defaults.get(name, {}))).result()
