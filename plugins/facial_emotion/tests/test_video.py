"""The facial-emotion analyzer on short generated videos made from real photographs."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("cv2")


from emotionhub.analyzers.contract import Item
from emotionhub.analyzers.runner import run_batch
from ml.tests.videos import EXAMPLES, photo, side_by_side, without_duration, write_video


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
    # Keyframes for the review page: spread from the first sighting to the last.
    times = [frame["t"] for frame in track["keyframes"]]
    assert len(times) == 4 and times[0] == 0.0 and times[-1] == 2.5 and times == sorted(times)
    assert all(len(frame["box"]) == 4 for frame in track["keyframes"])
    timeline = payload["timeline"]
    assert [row["second"] for row in timeline] == [0, 1, 2, 3, 4]
    assert [row["face_count"] for row in timeline] == [1, 1, 1, 0, 0]
    assert timeline[0]["label"] == "happy" and timeline[4]["label"] is None
    assert progress and progress == sorted(progress) and progress[-1] == 1.0


def test_a_short_gap_in_dense_sampling_keeps_the_track(analyzer, tmp_path):
    face, empty = photo("obama.jpg"), photo("coffee.jpg")
    path = write_video(tmp_path / "gap.mp4", [(face, 1.0), (empty, 0.4), (face, 1.0)])
    (outcome,) = run_batch(analyzer, [video_item(path, sample_every_s=0.1)])
    payload = outcome.result.payload
    assert payload["video"]["frames_analyzed"] == 24
    (track,) = payload["tracks"]  # four samples without a face are less than a second
    assert track["frames"] == 20 and (track["first_s"], track["last_s"]) == (0.0, 2.3)


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
    good.write_bytes((EXAMPLES / "astronaut.jpg").read_bytes())
    image = Item(id="img", kind="image", mime="image/jpeg", path=good)
    bad_outcome, good_outcome = run_batch(analyzer, [video_item(bad), image])
    assert bad_outcome.error.code == "corrupt_video" and bad_outcome.error.permanent
    assert good_outcome.result.payload["face_count"] == 1


def test_video_without_recorded_duration(analyzer, tmp_path):
    path = without_duration(
        write_video(tmp_path / "live.webm", [(photo("obama.jpg"), 2.0), (photo("coffee.jpg"), 1.0)])
    )
    progress: list[float] = []
    (outcome,) = run_batch(analyzer, [video_item(path, progress)])
    assert outcome.error is None, outcome.error
    payload = outcome.result.payload
    assert payload["video"]["duration_s"] == pytest.approx(3.0)  # measured by reading it
    assert payload["video"]["truncated"] is False and payload["face_count"] == 1
    assert [row["face_count"] for row in payload["timeline"]] == [1, 1, 0]
    assert progress[-1] == 1.0


def test_a_video_keeps_the_other_jobs_of_its_batch_alive(analyzer, tmp_path):
    """Micro-batches mix videos and images; while one video runs, every other job of the
    batch reports progress (which extends its lease) after each chunk."""
    first = write_video(tmp_path / "first.mp4", [(photo("obama.jpg"), 4.0)])
    second = write_video(tmp_path / "second.mp4", [(photo("coffee.jpg"), 1.0)])
    calls: dict[str, list[float]] = {"first": [], "second": [], "image": []}
    image = Item(
        id="image",
        kind="image",
        mime="image/jpeg",
        path=EXAMPLES / "astronaut.jpg",
        report_progress=calls["image"].append,
    )
    outcomes = run_batch(
        analyzer,
        [
            video_item(first, calls["first"], sample_every_s=0.2),  # 20 frames: 2 chunks
            image,
            video_item(second, calls["second"]),
        ],
    )
    assert [o.error for o in outcomes] == [None, None, None]
    assert outcomes[1].result.payload["face_count"] == 1
    assert calls["image"] == [1.0] * 3  # done before the videos; kept alive after each chunk
    assert calls["second"][:2] == [0.0, 0.0] and calls["second"][-1] == 1.0
    assert calls["first"][-1] == 1.0 and 0 < calls["first"][0] < 1


def test_a_crash_in_one_video_fails_only_that_video(analyzer, tmp_path, monkeypatch):
    from emotionhub_facial_emotion import video_analysis

    path = write_video(tmp_path / "clip.mp4", [(photo("obama.jpg"), 1.0)])
    image = Item(id="image", kind="image", mime="image/jpeg", path=EXAMPLES / "astronaut.jpg")

    def boom(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(video_analysis, "analyze_video", boom)
    crashed, fine = run_batch(analyzer, [video_item(path), image])
    assert crashed.error.code == "analyzer_crashed" and not crashed.error.permanent
    assert "out of memory" in crashed.error.message
    assert fine.result.payload["face_count"] == 1


def test_large_frames_make_smaller_chunks(analyzer, tmp_path, monkeypatch):
    from emotionhub_facial_emotion import video_analysis

    monkeypatch.setattr(video_analysis, "VIDEO_CHUNK_PIXELS", 3 * 320 * 240)
    path = write_video(tmp_path / "clip.mp4", [(photo("obama.jpg"), 1.0)])
    progress: list[float] = []
    (outcome,) = run_batch(analyzer, [video_item(path, progress, sample_every_s=0.1)])
    assert outcome.result.payload["video"]["frames_analyzed"] == 10
    assert len(progress) == 4 + 1  # chunks of 3, 3, 3 and 1 frames, then done


def test_partial_timelines_grow_and_agree_with_the_result(analyzer, tmp_path, monkeypatch):
    """A client polling a running video job sees the timeline grow: each partial result
    holds the whole seconds done so far, exactly as the final timeline has them."""
    from emotionhub_facial_emotion import video_analysis

    monkeypatch.setattr(video_analysis, "VIDEO_CHUNK_FRAMES", 4)
    path = write_video(
        tmp_path / "clip.mp4", [(photo("obama.jpg"), 3.0), (photo("coffee.jpg"), 2.0)], fps=10
    )
    partials: list[dict] = []
    item = Item(
        id="v",
        kind="video",
        mime="video/mp4",
        path=path,
        settings={"sample_every_s": 0.5},
        report_partial=partials.append,
    )
    (outcome,) = run_batch(analyzer, [item])
    final = outcome.result.payload["timeline"]
    assert len(partials) == 3  # chunks of 4, 4 and 2 of the 10 samples
    assert [p["frames_analyzed"] for p in partials] == [4, 8, 10]
    done = [p["seconds_done"] for p in partials]
    assert done == sorted(done) and done[0] >= 1
    for partial in partials:
        rows = partial["timeline"]
        assert [row["second"] for row in rows] == list(range(partial["seconds_done"]))
        assert rows == final[: len(rows)]
    assert partials[0]["timeline"][0]["label"] == "happy"
