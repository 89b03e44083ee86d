"""Facial emotion over a video: sampled frames in chunks through the image models, faces
tracked across frames, a per-second timeline and a summary per face track.

Memory stays bounded by one chunk of frames whatever the video's length; progress is
reported after every chunk, which also keeps the job's lease alive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from emotionhub.analyzers.contract import AnalyzerError, Item, Result
from emotionhub_facial_emotion.classifiers import CLASSES

if TYPE_CHECKING:
    from emotionhub_facial_emotion.analyzer import FacialEmotionAnalyzer


def analyze_video(analyzer: FacialEmotionAnalyzer, item: Item) -> Result | AnalyzerError:
    from emotionhub_facial_emotion.analyzer import VIDEO_CHUNK_FRAMES, kept_faces, setting
    from ml.detection import align_face
    from ml.video import (
        FaceTracker,
        VideoDecodeError,
        build_timeline,
        probe_video,
        sample_frames,
        summarise_tracks,
    )

    try:
        info = probe_video(item.path)
    except VideoDecodeError as exc:
        return AnalyzerError("corrupt_video", str(exc), permanent=True)
    try:
        classifier = analyzer._classifier(setting(item, "model"))
    except AnalyzerError as error:
        return error
    detector = analyzer._detector(setting(item, "detector"))
    every = float(setting(item, "sample_every_s"))
    max_frames = int(setting(item, "max_frames"))
    max_duration = float(setting(item, "max_duration_s"))
    span = min(info.duration_s, max_duration) if info.duration_s > 0 else max_duration
    expected = max(1, min(max_frames, int(span / every) + 1))

    tracker = FaceTracker()
    samples: list[tuple[float, list[np.ndarray]]] = []
    chunk: list[tuple[float, np.ndarray]] = []
    analyzed = 0
    last_timestamp = 0.0

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
        item.report_progress(min(1.0, analyzed / expected))
        chunk.clear()

    try:
        for timestamp, frame in sample_frames(item.path, every, max_frames, max_duration):
            chunk.append((timestamp, frame))
            analyzed += 1
            last_timestamp = timestamp
            if len(chunk) == VIDEO_CHUNK_FRAMES:
                flush()
        if chunk:
            flush()
    except VideoDecodeError as exc:
        return AnalyzerError("corrupt_video", str(exc), permanent=True)
    if analyzed == 0:
        return AnalyzerError(
            "corrupt_video", f"{item.path.name}: no frame could be decoded", permanent=True
        )
    item.report_progress(1.0)
    truncated = info.duration_s > max_duration or (
        analyzed >= max_frames and last_timestamp + every < info.duration_s
    )
    tracks = summarise_tracks(tracker.tracks(), CLASSES)
    return Result(
        {
            "video": {
                "duration_s": info.duration_s,
                "fps": info.fps,
                "width": info.width,
                "height": info.height,
                "frames_analyzed": analyzed,
                "sample_every_s": every,
                "truncated": bool(truncated),
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
