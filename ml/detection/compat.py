"""Import facenet-pytorch without torchvision (and without tqdm).

facenet-pytorch 2.6.0 pins an old torch and, at import time, needs two things that may be
missing from the EmotionHub environment:

* torchvision, for ``batched_nms`` and ``to_tensor`` only (``models/utils/detect_face.py``);
  no torchvision wheel matches the torch used here, so installing it would replace torch.
* tqdm, imported by ``models/utils/download.py`` (pulled in by the package ``__init__`` via
  ``InceptionResnetV1``) for the progress bar of pretrained-weight downloads, which never
  happen here: MTCNN's weights ship inside the package and there is no network.

:func:`import_facenet_pytorch` puts minimal stand-in modules for whichever of those cannot be
imported into ``sys.modules`` *only while facenet_pytorch is being imported*, then removes
them. facenet's modules keep the functions they bound at import, and the rest of the process
never sees a fake ``torchvision``/``tqdm`` (libraries that probe for torchvision, such as
transformers, would otherwise be misled). A real torchvision or tqdm is always preferred.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from types import ModuleType

from ml.detection import torch_ops

_lock = threading.Lock()

#: Marker attribute set on every stand-in module, so one is never mistaken for the real thing.
STANDIN_MARKER = "__emotionhub_standin__"


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except Exception:  # ImportError, or a broken install (e.g. torch ABI mismatch)
        return False
    return True


def _module(name: str, **attrs: object) -> ModuleType:
    module = types.ModuleType(name, "EmotionHub stand-in (ml.detection.compat), not the real one")
    setattr(module, STANDIN_MARKER, True)
    for key, value in attrs.items():
        setattr(module, key, value)
    return module


class _NoProgress:
    """No-op ``tqdm`` replacement: facenet only uses it as a download progress bar."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _standins() -> dict[str, ModuleType]:
    """Stand-ins for what facenet-pytorch imports but this environment lacks."""
    mods: dict[str, ModuleType] = {}
    if not _importable("torchvision"):
        boxes = _module(
            "torchvision.ops.boxes",
            batched_nms=torch_ops.batched_nms,
            nms=torch_ops.nms,
            box_iou=torch_ops.box_iou,
        )
        ops = _module("torchvision.ops", boxes=boxes, **vars(boxes))
        functional = _module("torchvision.transforms.functional", to_tensor=torch_ops.to_tensor)
        transforms = _module("torchvision.transforms", functional=functional)
        root = _module("torchvision", ops=ops, transforms=transforms)
        for m in (root, ops, boxes, transforms, functional):
            mods[m.__name__] = m
    if not _importable("tqdm"):
        auto = _module("tqdm.auto", tqdm=_NoProgress)
        mods["tqdm"] = _module("tqdm", tqdm=_NoProgress, auto=auto)
        mods["tqdm.auto"] = auto
    return mods


def import_facenet_pytorch() -> ModuleType:
    """Return the ``facenet_pytorch`` package, importing it with stand-ins if needed."""
    with _lock:
        if "facenet_pytorch" in sys.modules:
            return sys.modules["facenet_pytorch"]
        mods = _standins()
        for name in mods:
            if name in sys.modules:  # something else registered it: never overwrite
                raise ImportError(f"{name} is in sys.modules but cannot be imported")
        sys.modules.update(mods)
        try:
            return importlib.import_module("facenet_pytorch")
        finally:
            for name, module in mods.items():
                if sys.modules.get(name) is module:
                    del sys.modules[name]
