"""Facial emotion over a video: sampled frames in chunks through the image models, faces
tracked across frames, a per-second timeline and a summary per face track.

Memory stays bounded by one chunk of frames (at most ``VIDEO_CHUNK_FRAMES`` frames and
``VIDEO_CHUNK_PIXELS`` pixels, so 4K footage does not hold sixteen 25 MB frames) whatever
the video's length; progress is reported after every chunk, which also keeps the job's
lease alive.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from emotionhub.analyzers.contract import AnalyzerError, Item, Result
from emotionhub_facial_emotion.schema import CLASSES, kept_faces, setting

if TYPE_CHECKING:
    from ml.classifiers import FaceClassifier

#: Sampled video frames detected and classified together.
VIDEO_CHUNK_FRAMES = 16
#: ... unless they hold more pixels than this (16 frames of 720p).
VIDEO_CHUNK_PIXELS = VIDEO_CHUNK_FRAMES * 1280 * 720
#: A face may go undetected this long (a turned head, a missed detection) and keep its
#: track; counted in samples it would mean 80 ms at 25 samples/s but 20 s at one per 10 s.
TRACK_PATIENCE_S = 1.0


def analyze_video(
    item: Item,
    detector: Any,
    classifier: FaceClassifier,
    on_chunk: Callable[[], None] = lambda: None,
) -> Result | AnalyzerError:
    """Analyse one video item with ``detector`` (an ``ml.detection`` detector) and
    ``classifier``, both loaded by the analyzer; ``on_chunk`` runs after every chunk (the
    analyzer uses it to keep the leases of the batch's other jobs alive while this video
    runs)."""
    from ml.detection import align_face
    from ml.video import (
        FaceTracker,
        FrameSampler,
        VideoDecodeError,
        build_timeline,
        probe_video,
        summarise_tracks,
    )

    try:
        info = probe_video(item.path)
    except VideoDecodeError as exc:
        return AnalyzerError("corrupt_video", str(exc), permanent=True)
    every = float(setting(item, "sample_every_s"))
    max_frames = int(setting(item, "max_frames"))
    max_duration = float(setting(item, "max_duration_s"))
    span = min(info.duration_s or max_duration, max_duration)
    expected = max(1, min(max_frames, int(span / every) + 1))

    tracker = FaceTracker(max_missed=max(2, math.ceil(TRACK_PATIENCE_S / every)))
    samples: list[tuple[float, list[np.ndarray]]] = []
    chunk: list[tuple[float, np.ndarray]] = []

    def flush() -> None:
        found = detector.detect([frame for _, frame in chunk])
        faces_per_frame = [kept_faces(item, faces) for faces in found]
        crops = [
            align_face(frame, face, output_size=48)
            for (_, frame), faces in zip(chunk, faces_per_frame, strict=True)
            for face in faces
        ]
        probs = classifier.predict_proba(np.stack(crops)) if crops else np.empty((0, 7))
        start = 0
        for (timestamp, _), faces in zip(chunk, faces_per_frame, strict=True):
            frame_probs = list(probs[start : start + len(faces)])
            start += len(faces)
            tracker.update(timestamp, [face.box for face in faces], frame_probs)
            samples.append((timestamp, frame_probs))
        chunk.clear()
        item.report_progress(min(1.0, len(samples) / expected))
        # Whole seconds only: the last second may still get samples from the next chunk.
        done_s = int(samples[-1][0])
        item.report_partial(
            {
                "seconds_done": done_s,
                "frames_analyzed": len(samples),
                "timeline": build_timeline([s for s in samples if s[0] < done_s], CLASSES),
            }
        )
        on_chunk()

    sampler = FrameSampler(item.path, every, max_frames, max_duration)
    try:
        pixels = 0
        for timestamp, frame in sampler:
            chunk.append((timestamp, frame))
            pixels += frame.shape[0] * frame.shape[1]
            if len(chunk) == VIDEO_CHUNK_FRAMES or pixels >= VIDEO_CHUNK_PIXELS:
                flush()
                pixels = 0
        if chunk:
            flush()
    except VideoDecodeError as exc:
        return AnalyzerError("corrupt_video", str(exc), permanent=True)
    if not samples:
        return AnalyzerError(
            "corrupt_video", f"{item.path.name}: no frame could be decoded", permanent=True
        )
    item.report_progress(1.0)
    tracks = summarise_tracks(tracker.tracks(), CLASSES)
    return Result(
        {
            "video": {
                "duration_s": info.duration_s if info.duration_s is not None else sampler.end_s,
                "fps": info.fps,
                "width": info.width,
                "height": info.height,
                "frames_analyzed": len(samples),
                "sample_every_s": every,
                "truncated": sampler.truncated,
            },
            "timeline": build_timeline(samples, CLASSES),
            "tracks": tracks,
            "face_count": len(tracks),
            "detector": setting(item, "detector"),
            "model": setting(item, "model"),
        },
        model_version=classifier.model_version,
        weights_sha256=classifier.weights_sha256,
    )
