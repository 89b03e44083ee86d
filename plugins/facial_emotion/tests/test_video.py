"""The facial-emotion analyzer on short generated videos made from real photographs."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("cv2")

from emotionhub_facial_emotion.analyzer import FacialEmotionAnalyzer

from emotionhub.analyzers.contract import Item
from emotionhub.analyzers.runner import run_batch
from ml.tests.videos import photo, side_by_side, write_video


@pytest.fixture(scope="module")
def analyzer():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    instance = FacialEmotionAnalyzer()
    instance.load("cpu")
    yield instance
    torch.set_num_threads(threads)


def video_item(path: Path, progress: list | None = None, **settings) -> Item:
    return Item(
        id=path.name,
        kind="video",
        mime="video/mp4",
        path=path,
        settings=settings,
        report_progress=(progress.append if progress is not None else lambda f: None),
    )


def test_smiling_face_then_no_face(analyzer, tmp_path):
    path = write_video(
        tmp_path / "clip.mp4", [(photo("obama.jpg"), 3.0), (photo("coffee.jpg"), 2.0)], fps=10
    )
    progress: list[float] = []
    (outcome,) = run_batch(analyzer, [video_item(path, progress, sample_every_s=0.5)])
    assert outcome.error is None, outcome.error
    payload = outcome.result.payload
    assert payload["video"]["frames_analyzed"] == 10 and payload["video"]["truncated"] is False
    assert payload["face_count"] == 1
    (track,) = payload["tracks"]
    assert track["label"] == "happy" and track["frames"] == 6
    assert track["first_s"] == 0.0 and track["last_s"] == 2.5
    timeline = payload["timeline"]
    assert [row["second"] for row in timeline] == [0, 1, 2, 3, 4]
    assert [row["face_count"] for row in timeline] == [1, 1, 1, 0, 0]
    assert timeline[0]["label"] == "happy" and timeline[4]["label"] is None
    assert progress and progress == sorted(progress) and progress[-1] == 1.0


def test_two_people_are_two_tracks(analyzer, tmp_path):
    path = write_video(tmp_path / "two.mov", [(side_by_side("obama.jpg", "obama2.jpg"), 2.0)])
    (outcome,) = run_batch(analyzer, [video_item(path, sample_every_s=0.5)])
    payload = outcome.result.payload
    assert payload["face_count"] == 2
    assert all(track["frames"] == 4 for track in payload["tracks"])
    assert {row["face_count"] for row in payload["timeline"]} == {2}


def test_caps_mark_the_result_truncated(analyzer, tmp_path):
    path = write_video(tmp_path / "long.webm", [(photo("obama.jpg"), 4.0)], fps=10)
    (outcome,) = run_batch(analyzer, [video_item(path, sample_every_s=0.5, max_frames=3)])
    video = outcome.result.payload["video"]
    assert video["frames_analyzed"] == 3 and video["truncated"] is True
    (outcome,) = run_batch(analyzer, [video_item(path, max_duration_s=1.5)])
    video = outcome.result.payload["video"]
    assert video["frames_analyzed"] == 2 and video["truncated"] is True


def test_corrupt_video_is_a_permanent_error_next_to_good_items(analyzer, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 300)
    good = tmp_path / "astronaut.jpg"
    good.write_bytes(
        (Path(__file__).resolve().parents[3] / "docs/examples/astronaut.jpg").read_bytes()
    )
    image = Item(id="img", kind="image", mime="image/jpeg", path=good)
    bad_outcome, good_outcome = run_batch(analyzer, [video_item(bad), image])
    assert bad_outcome.error.code == "corrupt_video" and bad_outcome.error.permanent
    assert good_outcome.result.payload["face_count"] == 1
