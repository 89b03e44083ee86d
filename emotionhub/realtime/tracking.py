"""Stable face ids and smoothed emotions for one live stream.

Ids come from the video tracker (``ml.video.FaceTracker``: greedy IoU matching, a face
keeps its id while its box overlaps its last box by ``min_iou`` and it is missed in at most
``max_missed`` analysed frames in a row).

Smoothing, per track: an exponential moving average of the probabilities whose weight
depends on the time between analysed frames, not on their count,
``s_t = s_prev + (1 - exp(-dt / tau)) * (p_t - s_prev)`` with ``tau`` =
``EMOTIONHUB_STREAM_SMOOTHING_SECONDS`` (0.5 s: a change of expression shows 63% after half
a second, whatever the frame rate or the frames dropped). A new track starts at its first
probabilities. ``label``/``confidence`` of ``smoothed`` are its arg-max; the per-frame
values stay in ``emotions``/``label``.
"""

from __future__ import annotations

import math

import numpy as np

from ml.video import FaceTracker

#: Analysed frames a face may be missing from and keep its id (a blink of the detector).
TRACK_PATIENCE_FRAMES = 5


class StreamTracks:
    def __init__(self, smoothing_s: float, patience: int = TRACK_PATIENCE_FRAMES) -> None:
        self.tau = max(1e-6, float(smoothing_s))
        self.tracker = FaceTracker(min_iou=0.3, max_missed=patience)
        self._smoothed: dict[int, tuple[float, np.ndarray]] = {}

    def update(self, timestamp: float, faces: list[dict]) -> list[dict]:
        """``faces`` of one frame (the analyzer's payload) with ``track_id`` and
        ``smoothed`` added; memory stays bounded by the live tracks."""
        classes = list(faces[0]["emotions"]) if faces else []
        probs = [np.array([face["emotions"][c] for c in classes]) for face in faces]
        ids = self.tracker.update(timestamp, [face["box"] for face in faces], probs)
        # A stream can run for hours: keep no history the smoothing does not need.
        self.tracker.finished.clear()
        for track in self.tracker.live:
            del track.probabilities[:-1]
        live = {track.track_id for track in self.tracker.live}
        self._smoothed = {k: v for k, v in self._smoothed.items() if k in live}
        out = []
        for face, track_id, p in zip(faces, ids, probs, strict=True):
            previous = self._smoothed.get(track_id)
            if previous is None:
                value = p
            else:
                then, last = previous
                weight = 1.0 - math.exp(-max(0.0, timestamp - then) / self.tau)
                value = last + weight * (p - last)
            self._smoothed[track_id] = (timestamp, value)
            best = int(np.argmax(value))
            smoothed = {c: round(float(v), 4) for c, v in zip(classes, value, strict=True)}
            out.append(
                {
                    **face,
                    "track_id": track_id,
                    "smoothed": {
                        "emotions": smoothed,
                        "label": classes[best],
                        "confidence": round(float(value[best]), 4),
                    },
                }
            )
        return out
