"""Analyzer settings declared ``integer`` accept only integers: JSON Schema's ``integer``
also accepts 2.0, which a plugin then slices with and raises TypeError in a worker."""

from __future__ import annotations

import json

import pytest
from emotionhub_facial_emotion.analyzer import FacialEmotionAnalyzer

from emotionhub.analyzers.runner import validate_settings
from tests.conftest import png_bytes, upload


@pytest.mark.parametrize("value", [2.0, 2.5, True, "2"])
def test_integer_setting_refuses_floats_bools_and_strings(alice, value):
    response = alice.submit(
        files=[upload("face.png", png_bytes())],
        analyzers="facial_emotion",
        analyzer_settings=json.dumps({"facial_emotion": {"max_faces": value}}),
    )
    assert response.status_code == 400, response.json()
    body = response.json()["error"]
    assert body["code"] == "invalid_analyzer_settings"
    assert "max_faces" in body["message"]


def test_integer_setting_accepts_an_int_and_numbers_still_accept_floats():
    assert validate_settings(FacialEmotionAnalyzer, {"max_faces": 2}) == []
    assert validate_settings(FacialEmotionAnalyzer, {"max_faces": 2.0}) != []
    assert validate_settings(FacialEmotionAnalyzer, {"sample_every_s": 2}) == []
    assert validate_settings(FacialEmotionAnalyzer, {"sample_every_s": 0.5}) == []
