"""What a plugin implements: an :class:`Analyzer` with an :class:`AnalyzerSpec`.

This module imports neither Django nor torch, so a plugin (and its tests) can use it
anywhere. Heavy imports belong in :meth:`Analyzer.load`, which runs once per worker
process, so the web process never loads a model.

Extension points defined here:

- ``AnalyzerSpec.contract_version``: the contract a plugin was written for; the registry
  refuses plugins outside ``MIN_CONTRACT_VERSION..CONTRACT_VERSION`` at start-up.
- ``AnalyzerSpec.produces``: capabilities (:data:`CAPABILITIES`). Each names a payload
  fragment the core reads without knowing the plugin: review, face blurring, dashboards
  and post summaries ask the registry which analyzers produce ``faces`` or ``sentiment``
  instead of naming plugins. The fragment is checked against the result schema at
  start-up and enforced on every payload by the runner.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

#: The analyzer contract this core implements, and the oldest one it still runs.
CONTRACT_VERSION = 1
MIN_CONTRACT_VERSION = 1
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
    ``contract_version`` is the contract the plugin was written for (``CONTRACT_VERSION``
    of this module; none declared means 1, the contract before versions). ``produces``
    lists the :data:`CAPABILITIES` whose fragments every payload carries.
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
    contract_version: int | None = None
    produces: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "media_kinds", frozenset(self.media_kinds))
        object.__setattr__(self, "produces", frozenset(self.produces))
        if not self.queue:
            queue = "analysis_gpu" if self.device == "gpu" else "analysis_cpu"
            object.__setattr__(self, "queue", queue)

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["media_kinds"] = sorted(self.media_kinds)
        data["produces"] = sorted(self.produces)
        return data


# --- Capabilities: payload fragments the core reads ---------------------------------------

_probability = {"type": "number", "minimum": 0, "maximum": 1}
_box = {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}
_probabilities = {"type": "object", "additionalProperties": _probability}
SENTIMENT_LABELS = ("negative", "neutral", "positive")


@dataclasses.dataclass(frozen=True)
class Capability:
    """A promise about every payload of an analyzer that declares it.

    ``fragment`` is a JSON Schema each payload must also match (the runner enforces it).
    ``declares`` is what the result schema must name, checked at start-up: alternatives,
    each a tuple of property paths (``a[].b`` descends into array items, ``**.box`` means
    "at any depth"); every branch of a top-level ``oneOf``/``anyOf`` needs one alternative.
    ``readers`` says which parts of the core read it.
    """

    name: str
    description: str
    fragment: Mapping[str, Any]
    declares: tuple[tuple[str, ...], ...]
    readers: str


CAPABILITIES: Mapping[str, Capability] = {
    capability.name: capability
    for capability in (
        Capability(
            name="faces",
            description="Each face found, with its box in stored-image pixels, a label and "
            "its confidence (optionally per-class ``emotions``): ``faces`` for images, "
            "``tracks`` (``last_box``) for videos.",
            fragment={
                "anyOf": [
                    {
                        "type": "object",
                        "required": ["faces"],
                        "properties": {
                            "faces": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["box", "label", "confidence"],
                                    "properties": {
                                        "box": _box,
                                        "label": {"type": "string"},
                                        "confidence": _probability,
                                        "emotions": _probabilities,
                                    },
                                },
                            }
                        },
                    },
                    {
                        "type": "object",
                        "required": ["tracks"],
                        "properties": {
                            "tracks": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["last_box", "label", "confidence"],
                                    "properties": {
                                        "last_box": _box,
                                        "label": {"type": "string"},
                                        "confidence": _probability,
                                        "emotions": _probabilities,
                                    },
                                },
                            }
                        },
                    },
                ]
            },
            declares=(
                ("faces[].box", "faces[].label", "faces[].confidence"),
                ("tracks[].last_box", "tracks[].label", "tracks[].confidence"),
            ),
            readers="review (one target per face), face blurring, dashboards (dominant "
            "label, face count)",
        ),
        Capability(
            name="face_boxes",
            description="The box of every face the analyzer looked at, as ``box`` "
            "[x1, y1, x2, y2] in stored-image pixels at any depth of the payload (e.g. "
            "inside a component). Implied by ``faces``.",
            fragment={},
            declares=(("**.box",),),
            readers="face blurring",
        ),
        Capability(
            name="sentiment",
            description="One polarity for the item: ``label`` (negative/neutral/positive or "
            "null), ``score`` in [-1, 1] or null, ``scored: false`` when it abstains; "
            "optionally ``sentiment`` probabilities, ``confidence``, ``disagreement``, "
            "``face_count``. See :func:`sentiment_polarity`.",
            fragment={
                "type": "object",
                "required": ["label", "score"],
                "properties": {
                    "scored": {"type": "boolean"},
                    "label": {"oneOf": [{"type": "null"}, {"enum": list(SENTIMENT_LABELS)}]},
                    "score": {
                        "oneOf": [{"type": "null"}, {"type": "number", "minimum": -1, "maximum": 1}]
                    },
                    "confidence": {"oneOf": [{"type": "null"}, _probability]},
                    "sentiment": _probabilities,
                    "disagreement": {"type": "boolean"},
                    "face_count": {"type": "integer", "minimum": 0},
                },
            },
            declares=(("label", "score"),),
            readers="post summaries (votes), dashboards (polarity), review (one target per item)",
        ),
        Capability(
            name="emotion",
            description="An item-level emotion: ``emotion_label`` (a string) when the item was "
            "scored, optionally ``emotion`` probabilities.",
            fragment={
                "type": "object",
                "properties": {"emotion_label": {"type": "string"}, "emotion": _probabilities},
            },
            declares=(("emotion_label",),),
            readers="dashboards (emotion column)",
        ),
    )
}
#: Capabilities that another one includes (a payload with ``faces`` has face boxes).
IMPLIED_CAPABILITIES: Mapping[str, frozenset[str]] = {"faces": frozenset({"face_boxes"})}
LABEL_POLARITY: Mapping[str, float] = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}


def sentiment_polarity(payload: Any) -> float | None:
    """The polarity in [-1, 1] a ``sentiment`` payload votes for; None when it abstains.

    ``score`` when it is a number in range, else -1/0/1 from ``label``; ``scored: false``
    never votes. The one rule for post summaries and dashboards.
    """
    if not isinstance(payload, Mapping) or payload.get("scored") is False:
        return None
    score = payload.get("score")
    if isinstance(score, int | float) and not isinstance(score, bool) and -1 <= score <= 1:
        return float(score)
    label = payload.get("label")
    return LABEL_POLARITY.get(label) if isinstance(label, str) else None


def capability_problems(spec: AnalyzerSpec) -> list[str]:
    """What is wrong with ``spec.produces`` (unknown names, undeclared fragments)."""
    problems = []
    for name in sorted(spec.produces):
        capability = CAPABILITIES.get(name)
        if capability is None:
            problems.append(f"produces unknown capability {name!r} (known: {sorted(CAPABILITIES)})")
            continue
        schema = dict(spec.result_schema)
        branches = schema.get("oneOf") or schema.get("anyOf") or [schema]
        for branch in branches:
            if not any(all(_declares(branch, p) for p in paths) for paths in capability.declares):
                wanted = " or ".join(", ".join(paths) for paths in capability.declares)
                problems.append(
                    f"produces {name!r} but its result_schema does not declare {wanted}"
                )
                break
    return problems


def _declares(schema: Any, path: str) -> bool:
    """Whether ``schema`` names the property ``path`` (see :class:`Capability`)."""
    if not isinstance(schema, Mapping):
        return False
    if path.startswith("**."):
        return _declares_anywhere(schema, path[3:])
    for key in ("oneOf", "anyOf", "allOf"):
        if any(_declares(sub, path) for sub in schema.get(key, ())):
            return True
    head, _, rest = path.partition(".")
    name, is_array = (head[:-2], True) if head.endswith("[]") else (head, False)
    child = schema.get("properties", {}).get(name)
    if child is None:
        return False
    if is_array:
        child = child.get("items") if isinstance(child, Mapping) else None
        if child is None:
            return False
    return _declares(child, rest) if rest else True


def _declares_anywhere(schema: Any, name: str) -> bool:
    if isinstance(schema, Mapping):
        if name in (schema.get("properties") or {}):
            return True
        return any(_declares_anywhere(value, name) for value in schema.values())
    if isinstance(schema, list):
        return any(_declares_anywhere(value, name) for value in schema)
    return False


def capabilities_of(spec: AnalyzerSpec) -> frozenset[str]:
    """``spec.produces`` with the capabilities they imply."""
    implied = (IMPLIED_CAPABILITIES.get(name, frozenset()) for name in spec.produces)
    return spec.produces.union(*implied)


def payload_schema(spec: AnalyzerSpec) -> dict[str, Any]:
    """The result schema together with the fragments of every declared capability."""
    fragments = [
        dict(CAPABILITIES[name].fragment)
        for name in sorted(spec.produces)
        if name in CAPABILITIES and CAPABILITIES[name].fragment
    ]
    if not fragments:
        return dict(spec.result_schema)
    return {"allOf": [dict(spec.result_schema), *fragments]}


@dataclasses.dataclass(frozen=True)
class Item:
    """One input handed to :meth:`Analyzer.analyze`.

    ``path`` is a local file for images and videos; ``text`` holds the text of a text
    item, or the caption of an image/video when one exists. ``report_progress`` takes a
    fraction in [0, 1] and lets long analyses (videos) show progress and keep their lease;
    ``report_partial`` takes a JSON-able partial result (throttled by the worker).
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
    #: Long analyses (videos) hand the part of their result known so far (e.g. the timeline
    #: up to the seconds done), which a client polling the running job can read.
    report_partial: Callable[[Mapping[str, Any]], None] = dataclasses.field(
        default=lambda partial: None, repr=False, compare=False
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
