"""A plugin as a third party would write one: it imports only the analyzer contract.

It reports one "face" in the middle of every image (a third of each side) with a fixed
expression, and declares the ``faces`` capability; review, face blurring and dashboards
pick it up through the registry (tests/test_capabilities.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from emotionhub.analyzers.contract import (
    CONTRACT_VERSION,
    Analyzer,
    AnalyzerError,
    AnalyzerSpec,
    Item,
    Result,
)

EMOTIONS = {"happy": 0.75, "sad": 0.25}


class CentreFaceAnalyzer(Analyzer):
    spec = AnalyzerSpec(
        contract_version=CONTRACT_VERSION,
        name="centre_face",
        version="1.0.0",
        description="One face in the centre of the image, always happy (a test plugin).",
        media_kinds=frozenset({"image"}),
        produces=frozenset({"faces"}),
        infers_emotion_from_faces=True,
        result_schema={
            "type": "object",
            "required": ["faces"],
            "additionalProperties": False,
            "properties": {
                "faces": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["box", "label", "confidence", "emotions"],
                        "additionalProperties": False,
                        "properties": {
                            "box": {"type": "array", "items": {"type": "number"}},
                            "label": {"type": "string"},
                            "confidence": {"type": "number"},
                            "emotions": {"type": "object"},
                        },
                    },
                }
            },
        },
    )

    def analyze(self, items: Sequence[Item]) -> list[Result | AnalyzerError]:
        out: list[Result | AnalyzerError] = []
        for item in items:
            with Image.open(item.path) as image:
                width, height = image.size
            box = [width / 3, height / 3, 2 * width / 3, 2 * height / 3]
            face = {"box": box, "label": "happy", "confidence": 0.75, "emotions": EMOTIONS}
            out.append(Result({"faces": [face]}))
        return out
