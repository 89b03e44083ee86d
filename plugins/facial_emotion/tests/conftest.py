"""One loaded analyzer shared by the plugin's tests (loading models once keeps them fast)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def analyzer():
    torch = pytest.importorskip("torch")
    pytest.importorskip("cv2")
    from emotionhub_facial_emotion.analyzer import FacialEmotionAnalyzer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # fast and predictable on a shared 2-core machine
    instance = FacialEmotionAnalyzer()
    instance.load("cpu")
    yield instance
    torch.set_num_threads(threads)
