"""One loaded analyzer shared by the plugin's tests (the encoder loads once)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def analyzer():
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    from emotionhub_text_sentiment.analyzer import TextSentimentAnalyzer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    instance = TextSentimentAnalyzer()
    instance.load("cpu")
    yield instance
    torch.set_num_threads(threads)
