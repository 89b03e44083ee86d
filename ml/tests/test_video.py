"""Video probing, streaming sampling, face tracking and the per-second timeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cv2")

from ml.tests.videos import photo, side_by_side, without_duration, write_video
from ml.video import (
    FaceTracker,
    FrameSampler,
    VideoDecodeError,
    build_timeline,
    probe_video,
    sample_frames,
    summarise_tracks,
)

CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


@pytest.mark.parametrize(
    ("suffix", "fourcc"),
    [
        (".mp4", "mp4v"),
        (".mp4", "avc1"),  # H.264: what phones and browsers write; skipped without encoder
        (".mov", "avc1"),
        (".mov", "mp4v"),
        (".webm", "VP80"),
        (".webm", "VP90"),
    ],
)
def test_probe_and_sample_each_container(tmp_path: Path, suffix: str, fourcc: str):
    path = write_video(
        tmp_path / f"clip{suffix}", [(photo("obama.jpg"), 3.0)], fps=10, fourcc=fourcc
    )
    info = probe_video(path)
    assert info.duration_s == pytest.approx(3.0, abs=0.15)
    assert (info.width, info.height) == (320, 240) and info.fps == pytest.approx(10)
    stamps = [t for t, frame in sample_frames(path, every_s=0.5)]
    assert stamps == pytest.approx([0, 0.5, 1.0, 1.5, 2.0, 2.5])


def test_caps_on_frames_and_duration(tmp_path: Path):
    path = write_video(tmp_path / "long.mp4", [(photo("coffee.jpg"), 6.0)], fps=10)
    assert len(list(sample_frames(path, every_s=0.2, max_frames=7))) == 7
    # A period that is not a whole number of frames still gives one sample per period.
    assert len(list(sample_frames(path, every_s=0.25))) == 24
    stamps = [t for t, _ in sample_frames(path, every_s=1.0, max_duration_s=2.5)]
    assert stamps == [0.0, 1.0, 2.0]
    frames = [f for _, f in sample_frames(path, every_s=1.0)]
    assert frames[0].shape == (240, 320, 3) and frames[0].dtype == np.uint8


@pytest.mark.parametrize(
    ("settings", "count", "truncated"),
    [
        ({"every_s": 1.0, "max_frames": 6}, 6, False),  # every due sample taken: not cut
        ({"every_s": 1.0, "max_frames": 5}, 5, True),
        ({"every_s": 1.0, "max_duration_s": 5.0}, 6, False),
        ({"every_s": 1.0, "max_duration_s": 2.5}, 3, True),
        ({"every_s": 2.0, "max_duration_s": 5.5}, 3, False),  # nothing due after 4 s in 6 s
    ],
)
def test_sampler_says_whether_a_cap_cut_the_video(tmp_path: Path, settings, count, truncated):
    path = write_video(tmp_path / "six.mp4", [(photo("coffee.jpg"), 6.0)], fps=10)
    sampler = FrameSampler(path, **settings)
    assert len(list(sampler)) == count
    assert sampler.truncated is truncated and sampler.reached_end is not truncated
    assert sampler.end_s == (None if truncated else pytest.approx(6.0))


def test_video_without_recorded_duration(tmp_path: Path):
    path = without_duration(write_video(tmp_path / "live.webm", [(photo("obama.jpg"), 3.0)]))
    info = probe_video(path)
    assert info.duration_s is None and info.frame_count == 0 and info.fps == pytest.approx(10)
    sampler = FrameSampler(path, every_s=0.5)
    assert [t for t, _ in sampler] == pytest.approx([0, 0.5, 1.0, 1.5, 2.0, 2.5])
    assert sampler.reached_end and sampler.end_s == pytest.approx(3.0)


def test_timestamps_follow_presentation_times_across_gaps(tmp_path: Path, monkeypatch):
    """Variable frame rate footage: a 3 s jump in presentation times is sampled on the
    period grid after the jump, not frame after frame to catch up."""
    path = write_video(tmp_path / "gap.mp4", [(photo("obama.jpg"), 3.0)], fps=10)
    real = FrameSampler._timestamp

    def with_gap(self, pos_msec):
        return real(self, pos_msec + 3000 if pos_msec >= 1000 else pos_msec)

    monkeypatch.setattr(FrameSampler, "_timestamp", with_gap)
    stamps = [t for t, _ in sample_frames(path, every_s=0.5)]
    assert stamps == pytest.approx([0, 0.5, 4.0, 4.5, 5.0, 5.5])


def test_timestamps_without_presentation_times_count_frames():
    sampler = FrameSampler("unused.mp4")
    sampler.fps = 10.0
    stamps = []
    for pos in (0.0, 0.0, float("nan"), -5.0, 400.0):
        stamps.append(sampler._timestamp(pos))
        sampler.last_frame_s = stamps[-1]
    assert stamps == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_corrupt_truncated_and_non_video_files(tmp_path: Path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50)
    with pytest.raises(VideoDecodeError):
        probe_video(junk)
    text = tmp_path / "notes.webm"
    text.write_text("hello")
    with pytest.raises(VideoDecodeError):
        list(sample_frames(text))
    good = write_video(tmp_path / "good.mp4", [(photo("obama.jpg"), 4.0)], fps=10)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    try:
        frames = list(sample_frames(truncated))
    except VideoDecodeError:
        frames = []  # mp4v writes its index at the end: a cut file does not open at all
    assert len(frames) < 4  # never more than what is really there, never a crash
    # WebM is streamable: a cut download still yields the frames it holds.
    good = write_video(tmp_path / "good.webm", [(photo("obama.jpg"), 4.0)], fps=10)
    cut = tmp_path / "cut.webm"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    stamps = [t for t, _ in sample_frames(cut)]
    assert 1 <= len(stamps) < 4 and stamps == sorted(stamps)


def test_tracker_follows_two_faces_and_ends_lost_tracks():
    tracker = FaceTracker(min_iou=0.3, max_missed=1)
    p = np.full(7, 1 / 7)
    left, right = (10, 10, 60, 60), (200, 10, 250, 60)
    assert tracker.update(0.0, [left, right], [p, p]) == [1, 2]
    assert tracker.update(1.0, [(205, 12, 255, 62), (12, 10, 62, 60)], [p, p]) == [2, 1]
    assert tracker.update(2.0, [(14, 10, 64, 60)], [p]) == [1]
    tracker.update(3.0, [(16, 10, 66, 60)], [p])  # right face missed twice: ended
    assert tracker.update(4.0, [(205, 12, 255, 62)], [p]) == [3]  # comes back: new track
    spans = {t.track_id: (t.first_s, t.last_s, len(t.probabilities)) for t in tracker.tracks()}
    assert spans == {1: (0.0, 3.0, 4), 2: (0.0, 1.0, 2), 3: (4.0, 4.0, 1)}


def test_timeline_and_track_summary():
    happy = np.array([0, 0, 0, 0.9, 0.1, 0, 0])
    sad = np.array([0, 0, 0, 0.1, 0.2, 0.7, 0])
    samples = [(0.0, [happy]), (0.5, [happy, sad]), (1.0, []), (2.2, [sad])]
    timeline = build_timeline(samples, CLASSES)
    assert [row["second"] for row in timeline] == [0, 1, 2]
    assert [row["face_count"] for row in timeline] == [2, 0, 1]
    assert timeline[0]["label"] == "happy" and timeline[2]["label"] == "sad"
    assert timeline[1]["emotions"] is None and timeline[1]["label"] is None
    tracker = FaceTracker()
    tracker.update(0.0, [(0, 0, 10, 10)], [happy])
    tracker.update(1.0, [(0, 0, 10, 10)], [sad])
    (summary,) = summarise_tracks(tracker.tracks(), CLASSES)
    assert summary["frames"] == 2 and summary["label"] == "happy"
    assert sum(summary["emotions"].values()) == pytest.approx(1.0, abs=1e-3)


def test_side_by_side_frame_has_two_photos():
    frame = side_by_side("obama.jpg", "biden.jpg")
    assert frame.shape == (240, 480, 3)
