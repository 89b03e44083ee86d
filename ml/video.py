"""Video for the facial-emotion analyzer: probe, stream sampled frames, track faces, and
summarise per second and per face track. Pure numpy + OpenCV (no torch, no Django).

Frames are streamed: ``grab()`` demuxes and decodes each frame but skips the colour
conversion and copy, and only sampled frames are ``retrieve()``-d into RGB arrays. Memory is
therefore one frame plus the caller's chunk whatever the video's length; decoding time grows
with the video's length (about a third of a full ``read()``), model time with the number
of *sampled* frames.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ml.detection.faces import iou


class VideoDecodeError(ValueError):
    """The file is not a video OpenCV can decode (corrupt, truncated, no frames)."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container says, with the size of the first decoded frame.

    ``duration_s`` is ``None`` when the container does not record it (WebM recorded live
    by browsers often does not); ``frame_count`` is then 0.
    """

    duration_s: float | None
    fps: float
    width: int
    height: int
    frame_count: int


def _capture(path: str | Path):
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise VideoDecodeError(f"{Path(path).name}: not a readable video")
    return capture


def probe_video(path: str | Path) -> VideoInfo:
    """Container facts, checked by decoding the first frame (headers alone can lie).

    Width and height come from that frame, so they match the frames :func:`sample_frames`
    yields even when OpenCV applies a rotation tag (phone videos).
    """
    import cv2

    capture = _capture(path)
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok or frame is None or frame.size == 0:
        raise VideoDecodeError(f"{Path(path).name}: no decodable frame")
    if not (math.isfinite(fps) and 0 < fps <= 1000):
        fps = 25.0  # some containers omit it; only a fallback, timestamps come from the frames
    frames = max(frames, 0)  # negative when the container does not know
    duration = round(frames / fps, 3) if frames else None
    height, width = frame.shape[:2]
    return VideoInfo(duration, round(fps, 3), int(width), int(height), frames)


class FrameSampler:
    """Iterates ``(timestamp_s, RGB uint8 frame)`` once every ``every_s`` seconds, streaming.

    Timestamps are the frames' presentation times (right for variable frame rate phone
    footage), falling back to frame number / fps where the container has none. The frame
    nearest each sample time is taken; after a gap, sampling resumes on the period grid
    instead of sampling every frame to catch up.

    Sampling stops at ``max_frames`` samples or at ``max_duration_s`` of video. Afterwards
    ``truncated`` says whether a cap skipped a sample that was due (the video went on), and
    ``reached_end``/``end_s`` say whether the file was read to its end and how long it
    lasted. A file that ends early (truncated download) yields the frames it has.
    """

    def __init__(
        self,
        path: str | Path,
        every_s: float = 1.0,
        max_frames: int = 300,
        max_duration_s: float = 600.0,
    ) -> None:
        if not every_s > 0 or max_frames < 1:
            raise ValueError("every_s must be > 0 and max_frames >= 1")
        self.path = path
        self.every_s = float(every_s)
        self.max_frames = int(max_frames)
        self.max_duration_s = float(max_duration_s)
        self._reset()

    def _reset(self) -> None:
        self.truncated = False
        self.reached_end = False
        self.frames_read = 0
        self.last_frame_s: float | None = None
        self.fps = 0.0

    @property
    def end_s(self) -> float | None:
        """Length of the video as read (last frame's time plus one frame), once at its end."""
        if not self.reached_end or self.last_frame_s is None:
            return None
        return round(self.last_frame_s + 1 / self.fps, 3)

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        import cv2

        self._reset()
        info = probe_video(self.path)
        self.fps = info.fps
        capture = _capture(self.path)
        tolerance = 0.5 / info.fps
        yielded = 0
        next_sample = 0.0
        try:
            while True:
                if not capture.grab():
                    self.reached_end = True
                    return
                timestamp = self._timestamp(capture.get(cv2.CAP_PROP_POS_MSEC))
                self.frames_read += 1
                self.last_frame_s = timestamp
                if timestamp + tolerance < next_sample:
                    continue
                if yielded >= self.max_frames or timestamp > self.max_duration_s:
                    self.truncated = True
                    return
                ok, frame = capture.retrieve()
                if not ok or frame is None:
                    return  # undecodable tail: keep what was sampled
                yield round(timestamp, 3), cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                yielded += 1
                while next_sample <= timestamp + tolerance:
                    next_sample += self.every_s
        finally:
            capture.release()

    def _timestamp(self, pos_msec: float) -> float:
        """The grabbed frame's time: its presentation time when that moves forward, else
        one frame after the previous one."""
        previous = self.last_frame_s
        seconds = pos_msec / 1000.0
        plausible = math.isfinite(seconds) and seconds >= 0
        if previous is None:
            return seconds if plausible else 0.0
        if plausible and seconds > previous:
            return seconds
        return previous + 1 / self.fps


def sample_frames(
    path: str | Path,
    every_s: float = 1.0,
    max_frames: int = 300,
    max_duration_s: float = 600.0,
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(timestamp_s, RGB uint8 frame)`` every ``every_s`` seconds, streaming; see
    :class:`FrameSampler` (use it directly to learn whether the caps truncated the video)."""
    yield from FrameSampler(path, every_s, max_frames, max_duration_s)


def read_frame(path: str | Path, at_s: float) -> np.ndarray:
    """The RGB frame shown at ``at_s`` seconds (the first at or after it), for thumbnails."""
    import cv2

    capture = _capture(path)
    try:
        capture.set(cv2.CAP_PROP_POS_MSEC, max(0.0, float(at_s)) * 1000.0)
        ok, frame = capture.read()
        if not ok or frame is None:  # some containers cannot seek: read forward instead
            capture.release()
            capture = _capture(path)
            frame = None
            while True:
                ok, candidate = capture.read()
                if not ok:
                    break
                frame = candidate
                if capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 >= at_s:
                    break
        if frame is None:
            raise VideoDecodeError(f"no frame at {at_s:.3f} s")
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()


def _box(box: Sequence[float]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return x1, y1, x2, y2


@dataclass
class Track:
    """One face followed across sampled frames."""

    track_id: int
    box: tuple[float, float, float, float]
    first_s: float
    last_s: float
    probabilities: list[np.ndarray] = field(default_factory=list)
    missed: int = 0
    # (timestamp, box) of every sample the face was seen in: the review page's thumbnails.
    sightings: list[tuple[float, tuple[float, float, float, float]]] = field(default_factory=list)


class FaceTracker:
    """Greedy IoU tracker: each face joins the unmatched live track it overlaps most (above
    ``min_iou``), else starts a new track; a track ends after ``max_missed`` samples
    without a face. Enough for people who move little between samples; identities are not
    recognised, so a face that leaves and returns starts a new track."""

    def __init__(self, min_iou: float = 0.3, max_missed: int = 2) -> None:
        self.min_iou = min_iou
        self.max_missed = max_missed
        self.live: list[Track] = []
        self.finished: list[Track] = []
        self._next_id = 1

    def update(
        self, timestamp: float, boxes: Sequence[Sequence[float]], probs: Sequence[np.ndarray]
    ) -> list[int]:
        """Assign this frame's faces to tracks; returns the track id of each face."""
        pairs = sorted(
            (
                (iou(box, track.box), f, t)
                for f, box in enumerate(boxes)
                for t, track in enumerate(self.live)
            ),
            reverse=True,
        )
        face_track: dict[int, int] = {}
        used: set[int] = set()
        for overlap, f, t in pairs:
            if overlap < self.min_iou:
                break
            if f in face_track or t in used:
                continue
            face_track[f] = t
            used.add(t)
        ids = []
        for f, box in enumerate(boxes):
            if f in face_track:
                track = self.live[face_track[f]]
            else:
                track = Track(self._next_id, _box(box), timestamp, timestamp)
                self._next_id += 1
                self.live.append(track)
                used.add(len(self.live) - 1)
            track.box, track.last_s, track.missed = _box(box), timestamp, 0
            track.sightings.append((timestamp, track.box))
            track.probabilities.append(np.asarray(probs[f], dtype=np.float64))
            ids.append(track.track_id)
        still_live: list[Track] = []
        for t, track in enumerate(self.live):
            if t not in used:
                track.missed += 1
            (still_live if track.missed <= self.max_missed else self.finished).append(track)
        self.live = still_live
        return ids

    def tracks(self) -> list[Track]:
        return sorted(self.finished + self.live, key=lambda track: track.track_id)


#: Sightings kept per track summary, spread over its span (review thumbnails).
KEYFRAMES_PER_TRACK = 4


def keyframes(track: Track, count: int = KEYFRAMES_PER_TRACK) -> list[dict]:
    """Up to ``count`` sightings evenly spread from the track's first to its last."""
    seen = track.sightings
    if not seen:
        return []
    if len(seen) <= count:
        picked = seen
    else:
        picked = [seen[round(i * (len(seen) - 1) / (count - 1))] for i in range(count)]
    return [
        {"t": round(float(t), 3), "box": [round(float(v), 1) for v in box]} for t, box in picked
    ]


def summarise_tracks(tracks: Sequence[Track], classes: Sequence[str]) -> list[dict]:
    """JSON-ready summary per track: span, frames, mean probabilities, dominant label, and
    a few keyframes (time and box) to show the face."""
    out = []
    for track in tracks:
        mean = np.mean(track.probabilities, axis=0)
        best = int(np.argmax(mean))
        out.append(
            {
                "track_id": track.track_id,
                "first_s": round(track.first_s, 3),
                "last_s": round(track.last_s, 3),
                "frames": len(track.probabilities),
                "emotions": {c: round(float(p), 4) for c, p in zip(classes, mean, strict=True)},
                "label": classes[best],
                "confidence": round(float(mean[best]), 4),
                "last_box": [round(float(v), 1) for v in track.box],
                "keyframes": keyframes(track),
            }
        )
    return out


def build_timeline(
    samples: Sequence[tuple[float, Sequence[np.ndarray]]], classes: Sequence[str]
) -> list[dict]:
    """Per-second rows from ``(timestamp, [face probabilities...])`` samples.

    Each second present in the samples gets a row: the largest number of faces seen in one
    frame of that second, and the mean probabilities over every face seen in it (``None``
    with label ``None`` when no face was seen).
    """
    seconds: dict[int, list] = {}
    for timestamp, faces in samples:
        row = seconds.setdefault(int(timestamp), [0, []])
        row[0] = max(row[0], len(faces))
        row[1].extend(faces)
    timeline = []
    for second in sorted(seconds):
        count, faces = seconds[second]
        entry: dict = {"second": second, "face_count": count, "emotions": None, "label": None}
        if faces:
            mean = np.mean(np.stack(faces), axis=0)
            entry["emotions"] = {c: round(float(p), 4) for c, p in zip(classes, mean, strict=True)}
            entry["label"] = classes[int(np.argmax(mean))]
        timeline.append(entry)
    return timeline
