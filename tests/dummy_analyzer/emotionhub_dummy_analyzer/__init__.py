"""A minimal, real EmotionHub plugin: what a third-party analyzer needs and nothing more.

It measures simple image statistics and text length, which is enough to exercise the
whole path (upload, queue, worker, result) without a model.
"""

from collections.abc import Sequence

from PIL import Image, ImageStat

from emotionhub.analyzers.contract import (
    CONTRACT_VERSION,
    Analyzer,
    AnalyzerError,
    AnalyzerSpec,
    Item,
    Result,
)


class ImageStatsAnalyzer(Analyzer):
    spec = AnalyzerSpec(
        contract_version=CONTRACT_VERSION,
        name="example",
        version="1.0.0",
        description="Image size and mean brightness; word count for text. A demo plugin.",
        media_kinds=frozenset({"image", "text"}),
        max_batch_size=8,
        model_version="stats-1",
        result_schema={
            "type": "object",
            "oneOf": [
                {
                    "required": ["width", "height", "mean_brightness"],
                    "properties": {
                        "width": {"type": "integer", "minimum": 1},
                        "height": {"type": "integer", "minimum": 1},
                        "mean_brightness": {"type": "number", "minimum": 0, "maximum": 255},
                    },
                    "additionalProperties": False,
                },
                {
                    "required": ["words"],
                    "properties": {"words": {"type": "integer", "minimum": 0}},
                    "additionalProperties": False,
                },
            ],
        },
    )

    def analyze(self, items: Sequence[Item]) -> list[Result | AnalyzerError]:
        return [self._one(item) for item in items]

    def _one(self, item: Item) -> Result | AnalyzerError:
        if item.kind == "text":
            return Result({"words": len((item.text or "").split())})
        try:
            with Image.open(item.path) as image:
                gray = image.convert("L")
                brightness = ImageStat.Stat(gray).mean[0]
                return Result(
                    {
                        "width": image.width,
                        "height": image.height,
                        "mean_brightness": round(brightness, 3),
                    }
                )
        except OSError as exc:
            return AnalyzerError("unreadable_image", str(exc), permanent=True)


class TextLengthAnalyzer(Analyzer):
    spec = AnalyzerSpec(
        contract_version=CONTRACT_VERSION,
        name="text_length",
        version="1.0.0",
        description="Character count of a text item, optionally ignoring whitespace.",
        media_kinds=frozenset({"text"}),
        max_batch_size=32,
        result_schema={
            "type": "object",
            "required": ["characters"],
            "properties": {"characters": {"type": "integer", "minimum": 0}},
            "additionalProperties": False,
        },
        settings_schema={
            "type": "object",
            "properties": {"ignore_whitespace": {"type": "boolean"}},
            "additionalProperties": False,
        },
    )

    def analyze(self, items: Sequence[Item]) -> list[Result | AnalyzerError]:
        out: list[Result | AnalyzerError] = []
        for item in items:
            text = item.text or ""
            if item.settings.get("ignore_whitespace"):
                text = "".join(text.split())
            out.append(Result({"characters": len(text)}))
        return out
