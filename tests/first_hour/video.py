"""A real video with one face, analysed by the real facial_emotion analyzer, stored as a
tenant's media with its result (what the worker would have written)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from emotionhub.media.models import Media
from tests.reporting.conftest import make_result

_analyzer = None


def facial_emotion():
    """The real analyzer, loaded once per test process."""
    global _analyzer
    if _analyzer is None:
        pytest.importorskip("torch")
        pytest.importorskip("cv2")
        from emotionhub_facial_emotion.analyzer import FacialEmotionAnalyzer

        _analyzer = FacialEmotionAnalyzer()
        _analyzer.load("cpu")
    return _analyzer


def analysed_video(tenant, tmp_path: Path):
    """(media, result) for a 3 s smiling face followed by 2 s without one."""
    from emotionhub.analyzers.contract import Item
    from emotionhub.analyzers.runner import run_batch
    from ml.tests.videos import photo, write_video

    path = write_video(
        tmp_path / "clip.mp4", [(photo("obama.jpg"), 3.0), (photo("coffee.jpg"), 2.0)], fps=10
    )
    item = Item(
        id="clip",
        kind="video",
        mime="video/mp4",
        path=path,
        settings={"sample_every_s": 0.5},
        report_progress=lambda fraction: None,
    )
    (outcome,) = run_batch(facial_emotion(), [item])
    assert outcome.error is None, outcome.error
    data = path.read_bytes()
    media = Media(
        tenant=tenant,
        kind="video",
        mime="video/mp4",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        original_name="clip.mp4",
        width=320,
        height=240,
        duration_seconds=5.0,
    )
    media.file.save("clip.mp4", ContentFile(data), save=False)
    media.save()
    return media, make_result(media, "facial_emotion", outcome.result.payload)
