"""What a plugin implements: an :class:`Analyzer` with an :class:`AnalyzerSpec`.

This module imports neither Django nor torch, so a plugin (and its tests) can use it
anywhere. Heavy imports belong in :meth:`Analyzer.load`, which runs once per worker
process, so the web process never loads a model.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

MEDIA_KINDS = frozenset({"image", "video", "text"})
DEVICE_NEEDS = ("cpu", "gpu")
#: Longest ``model_version`` a result can store (AnalysisResult.model_version).
MODEL_VERSION_MAX = 100
EMPTY_SETTINGS_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {},
    "additionalProperties": False,
}


@dataclasses.dataclass(frozen=True)
class AnalyzerSpec:
    """Everything the core needs to know about an analyzer without loading its model.

    ``device="gpu"`` means the analyzer benefits from CUDA: its jobs go to the
    ``analysis_gpu`` queue and it is loaded on CUDA when present, on CPU otherwise.
    ``model_version`` and ``weights_sha256`` are stored with every result, so a re-run
    with a new model sits beside the old result instead of overwriting it.
    ``model_card`` is the model's documentation: a Markdown file (absolute, or relative to
    the project root) or an http(s) URL; the API links it from the analyzer's entry.
    ``infers_emotion_from_faces`` must be True for any analyzer that reads emotions or
    expressions off faces (also as one component): the law forbids that for some purposes
    (EU AI Act, Art. 5(1)(f)), so the server refuses such analyzers for those tenants.
    ``realtime=True`` says the analyzer implements :meth:`Analyzer.analyze_frames` fast
    enough for live use: only such analyzers may run on ``POST /api/v1/analyze`` and the
    ``/api/v1/stream`` WebSocket, which hand it decoded frames instead of stored files.
    """

    name: str
    version: str
    media_kinds: frozenset[str]
    result_schema: Mapping[str, Any]
    settings_schema: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: dict(EMPTY_SETTINGS_SCHEMA)
    )
    description: str = ""
    device: Literal["cpu", "gpu"] = "cpu"
    max_batch_size: int = 1
    queue: str = ""
    model_version: str = ""
    weights_sha256: str = ""
    model_card: str = ""
    licence: str = ""
    infers_emotion_from_faces: bool = False
    realtime: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "media_kinds", frozenset(self.media_kinds))
        if not self.queue:
            queue = "analysis_gpu" if self.device == "gpu" else "analysis_cpu"
            object.__setattr__(self, "queue", queue)

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["media_kinds"] = sorted(self.media_kinds)
        return data


@dataclasses.dataclass(frozen=True)
class Item:
    """One input handed to :meth:`Analyzer.analyze`.

    ``path`` is a local file for images and videos; ``text`` holds the text of a text
    item, or the caption of an image/video when one exists. ``report_progress`` takes a
    fraction in [0, 1] and lets long analyses (videos) show progress and keep their lease.
    """

    id: str
    kind: str
    mime: str
    path: Path | None = None
    text: str | None = None
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    report_progress: Callable[[float], None] = dataclasses.field(
        default=lambda fraction: None, repr=False, compare=False
    )


@dataclasses.dataclass(frozen=True)
class Frame:
    """One decoded still handed to :meth:`Analyzer.analyze_frames` (real-time path).

    ``image`` is an upright ``(H, W, 3)`` uint8 RGB numpy array; nothing is on disk.
    """

    id: str
    image: Any
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Result:
    """A successful analysis: ``payload`` must match the spec's ``result_schema``.

    ``model_version`` and ``weights_sha256`` override the spec's when the model used
    depends on the item's settings (an analyzer offering several models).
    """

    payload: Mapping[str, Any]
    model_version: str | None = None
    weights_sha256: str | None = None


class AnalyzerError(Exception):
    """An analysis that did not produce a result.

    ``permanent=True`` says the input will never work (corrupt file, unsupported
    content): the job fails at once. Otherwise the job is retried with back-off and, when
    its attempts are used up, quarantined as failed.
    """

    def __init__(self, code: str, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.permanent = permanent

    def __repr__(self) -> str:
        return f"AnalyzerError({self.code!r}, {self.message!r}, permanent={self.permanent})"


class Analyzer(ABC):
    """Base class of every analyzer plugin, found through the entry-point group
    ``emotionhub.analyzers``. One instance lives per worker process."""

    spec: ClassVar[AnalyzerSpec]

    def load(self, device: str) -> None:  # noqa: B027 - optional hook
        """Load models onto ``device`` ("cpu" or "cuda"); called once per process."""

    @abstractmethod
    def analyze(self, items: Sequence[Item]) -> list[Result | AnalyzerError]:
        """Analyze a batch (at most ``spec.max_batch_size`` items): one entry per item,
        in order. Raising for a batch of several items makes the runner analyze each of
        them alone, so only the items that raise on their own fail (with that error)."""

    def analyze_frames(self, frames: Sequence[Frame]) -> list[Result | AnalyzerError]:
        """Analyse decoded frames (spec ``realtime=True``): one entry per frame, in order,
        with the payload ``analyze`` would give for the same image. Several frames (from
        several streams) arrive together so the models see one batch."""
        raise NotImplementedError(f"{type(self).__name__} has no real-time path")
