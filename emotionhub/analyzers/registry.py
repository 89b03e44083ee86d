"""Discovers analyzer plugins through entry points and keeps one loaded instance of each
per process.

The allow list ``EMOTIONHUB_ANALYZERS`` decides which installed analyzers may run; "*"
enables all of them. Specs are validated by Django's check framework at start-up.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

from django.conf import settings
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from emotionhub.analyzers.contract import (
    CONTRACT_VERSION,
    DEVICE_NEEDS,
    MEDIA_KINDS,
    MIN_CONTRACT_VERSION,
    Analyzer,
    AnalyzerSpec,
    capabilities_of,
    capability_problems,
)
from emotionhub.core.errors import DomainError

ENTRY_POINT_GROUP = "emotionhub.analyzers"
KNOWN_QUEUES = ("analysis_cpu", "analysis_gpu")
log = logging.getLogger(__name__)


class UnknownAnalyzer(LookupError):
    """The name is not installed or not on the allow list."""


@functools.cache
def installed_entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def enabled_names() -> list[str]:
    """Installed analyzers that the allow list enables, sorted by name."""
    installed = installed_entry_points()
    allowed = settings.EMOTIONHUB_ANALYZERS
    if "*" in allowed:
        return sorted(installed)
    return sorted(name for name in allowed if name in installed)


def check_enabled(names: Iterable[str]) -> None:
    """400 ``unknown_analyzer`` listing each of ``names`` that is not installed or not on
    the allow list (submissions, real-time requests, social sources)."""
    enabled = enabled_names()
    unknown = [name for name in names if name not in enabled]
    if unknown:
        raise DomainError(
            "unknown_analyzer",
            f"Unknown or disabled analyzers: {', '.join(unknown)}.",
            status=400,
            details={"unknown": unknown, "available": enabled},
        )


@functools.cache
def _load_class(name: str) -> type[Analyzer]:
    return installed_entry_points()[name].load()


def analyzer_class(name: str) -> type[Analyzer]:
    if name not in enabled_names():
        raise UnknownAnalyzer(name)
    return _load_class(name)


def get_spec(name: str) -> AnalyzerSpec:
    return analyzer_class(name).spec


def enabled_specs() -> list[AnalyzerSpec]:
    return [get_spec(name) for name in enabled_names()]


def realtime_names() -> list[str]:
    """Enabled analyzers whose spec declares real-time support."""
    return [spec.name for spec in enabled_specs() if spec.realtime]


def spec_problems(name: str) -> list[str]:
    """Everything wrong with the plugin installed under ``name`` (empty when valid)."""
    try:
        cls = _load_class(name)
    except Exception as exc:  # a broken plugin must not stop the check from reporting
        return [f"cannot be imported: {exc!r}"]
    if not (isinstance(cls, type) and issubclass(cls, Analyzer)):
        return ["entry point does not name an emotionhub Analyzer subclass"]
    spec = getattr(cls, "spec", None)
    if not isinstance(spec, AnalyzerSpec):
        return ["has no AnalyzerSpec in its `spec` attribute"]
    problems = []
    if spec.name != name:
        problems.append(f"spec name {spec.name!r} differs from its entry point name")
    if not spec.media_kinds or not spec.media_kinds <= MEDIA_KINDS:
        problems.append(f"media_kinds must be a non-empty subset of {sorted(MEDIA_KINDS)}")
    if spec.device not in DEVICE_NEEDS:
        problems.append(f"device must be one of {DEVICE_NEEDS}")
    if not isinstance(spec.max_batch_size, int) or spec.max_batch_size < 1:
        problems.append("max_batch_size must be a positive integer")
    if spec.queue not in KNOWN_QUEUES:
        problems.append(f"queue must be one of {KNOWN_QUEUES}")
    if not spec.version:
        problems.append("version must not be empty")
    if not isinstance(spec.infers_emotion_from_faces, bool):
        problems.append("infers_emotion_from_faces must be True or False")
    if spec.realtime and (
        "image" not in spec.media_kinds or cls.analyze_frames is Analyzer.analyze_frames
    ):
        problems.append("declares realtime but does not accept images or has no analyze_frames")
    problems.extend(contract_version_problems(spec))
    problems.extend(capability_problems(spec))
    for field in ("result_schema", "settings_schema"):
        try:
            Draft202012Validator.check_schema(dict(getattr(spec, field)))
        except SchemaError as exc:
            problems.append(f"{field} is not a valid JSON Schema: {exc.message}")
    return problems


def contract_version_problems(spec: AnalyzerSpec) -> list[str]:
    """The analyzer contract a plugin says it was written for must be one this core
    implements (like NetBox's min_version/max_version for plugins). Plugins written before
    the contract had versions declare none and are held to version 1."""
    declared = 1 if spec.contract_version is None else spec.contract_version
    supported = f"{MIN_CONTRACT_VERSION}..{CONTRACT_VERSION}"
    if not isinstance(declared, int) or isinstance(declared, bool):
        return [f"contract_version must be an integer, not {declared!r}"]
    if not MIN_CONTRACT_VERSION <= declared <= CONTRACT_VERSION:
        return [f"is written for analyzer contract {declared}; this server runs {supported}"]
    return []


@functools.cache
def analyzers_producing(capability: str) -> frozenset[str]:
    """Installed analyzers whose valid spec declares ``capability`` (or one implying it).

    Installed rather than enabled: results of an analyzer taken off the allow list still
    reach review, blurring and dashboards. Plugins that fail to import are left out (the
    start-up check reports them).
    """
    names = set()
    for name in installed_entry_points():
        if spec_problems(name):  # cannot be imported, or an invalid spec
            continue
        if capability in capabilities_of(_load_class(name).spec):
            names.add(name)
    return frozenset(names)


def clear_caches() -> None:
    """Forget discovered plugins (tests that install or remove one)."""
    installed_entry_points.cache_clear()
    _load_class.cache_clear()
    analyzers_producing.cache_clear()


def select_device(spec: AnalyzerSpec) -> str:
    """CUDA when the analyzer wants a GPU and one is present, CPU otherwise."""
    if spec.device != "gpu":
        return "cpu"
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


_loaded: dict[str, tuple[Analyzer, str]] = {}
_load_lock = threading.Lock()


def _limit_torch_threads() -> None:
    """Apply ``EMOTIONHUB_TORCH_THREADS`` (when set) before any model loads.

    torch uses every core per process by default; several worker processes on one host
    then oversubscribe the CPU, and spinning OpenMP threads make each of them many times
    slower. Set it to cores / worker concurrency.
    """
    threads = getattr(settings, "EMOTIONHUB_TORCH_THREADS", 0)
    if not threads:
        return
    try:
        import torch
    except ImportError:
        return
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def loaded_analyzer(name: str) -> tuple[Analyzer, str]:
    """The process-wide instance of ``name`` and its device, loading it on first use."""
    with _load_lock:
        if not _loaded:
            _limit_torch_threads()
        if name not in _loaded:
            cls = analyzer_class(name)
            instance = cls()
            device = select_device(cls.spec)
            log.info("loading analyzer %s %s on %s", name, cls.spec.version, device)
            instance.load(device)
            _loaded[name] = (instance, device)
        return _loaded[name]
