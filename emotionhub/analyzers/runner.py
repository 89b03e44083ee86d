"""Runs one batch through an analyzer and turns whatever happens into per-item outcomes.

Shared by the Celery worker and ``manage.py analyze_files`` so both behave the same:
results are checked against the analyzer's schema, and an exception never escapes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from jsonschema import Draft202012Validator, validators

from emotionhub.analyzers.contract import (
    MODEL_VERSION_MAX,
    Analyzer,
    AnalyzerError,
    Frame,
    Item,
    Result,
    payload_schema,
)


def _is_strict_integer(checker, instance) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


#: JSON Schema's ``integer`` accepts 2.0 (a number with zero fraction), which a plugin then
#: slices or ranges with and raises TypeError; settings are validated with integers meaning
#: Python ints, so an accepted ``integer`` setting is always an int.
StrictSettingsValidator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_strict_integer),
)


@dataclasses.dataclass(frozen=True)
class Outcome:
    item: Item | Frame
    result: Result | None
    error: AnalyzerError | None
    duration_ms: float


def validate_settings(analyzer_cls: type[Analyzer], values: dict) -> list[str]:
    """Messages for every way ``values`` breaks the analyzer's settings schema."""
    validator = StrictSettingsValidator(dict(analyzer_cls.spec.settings_schema))
    return [_describe(error) for error in validator.iter_errors(values)]


def _describe(error) -> str:
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def run_batch(analyzer: Analyzer, items: Sequence[Item]) -> list[Outcome]:
    """One outcome per item, in order.

    A batch can hold several tenants' jobs (micro-batching), so when ``analyze`` raises
    for a batch of several items, each item is run again on its own: only the item that
    raises gets the error, the others are recorded normally.
    """
    started = time.perf_counter()
    raised = _analyze(analyzer, items)
    if isinstance(raised, AnalyzerError) and len(items) > 1:
        outcomes = []
        for item in items:
            outcomes.extend(run_batch(analyzer, [item]))
        return outcomes
    outputs = [raised] * len(items) if isinstance(raised, AnalyzerError) else raised
    if len(outputs) != len(items):
        violation = AnalyzerError(
            "analyzer_contract_violation",
            f"analyze() returned {len(outputs)} outcomes for {len(items)} items",
            permanent=True,
        )
        outputs = [violation] * len(items)
    per_item_ms = (time.perf_counter() - started) * 1000 / max(len(items), 1)
    return _checked_outcomes(analyzer, items, outputs, per_item_ms)


def run_frames(analyzer: Analyzer, frames: Sequence[Frame]) -> list[Outcome]:
    """The real-time path: decoded frames through ``analyze_frames``, checked the same way
    (schema, model version, contract), so a live answer is what a stored result would be.
    As in :func:`run_batch`, a batch that raises is run again frame by frame, so one
    stream's bad frame does not fail the other streams' frames of its batch."""
    started = time.perf_counter()
    raised = _analyze(analyzer, frames, analyzer.analyze_frames)
    if isinstance(raised, AnalyzerError) and len(frames) > 1:
        return [outcome for frame in frames for outcome in run_frames(analyzer, [frame])]
    outputs = [raised] * len(frames) if isinstance(raised, AnalyzerError) else raised
    if len(outputs) != len(frames):
        violation = AnalyzerError(
            "analyzer_contract_violation",
            f"analyze_frames() returned {len(outputs)} outcomes for {len(frames)} frames",
            permanent=True,
        )
        outputs = [violation] * len(frames)
    per_item_ms = (time.perf_counter() - started) * 1000 / max(len(frames), 1)
    return _checked_outcomes(analyzer, frames, outputs, per_item_ms)


def _analyze(analyzer: Analyzer, items: Sequence, analyze=None) -> list | AnalyzerError:
    """``analyze``'s outputs, or the error it raised (an exception never escapes)."""
    try:
        return list((analyze or analyzer.analyze)(items))
    except AnalyzerError as exc:
        return exc
    except Exception as exc:  # a plugin bug must not take the worker down
        return AnalyzerError("analyzer_crashed", f"{type(exc).__name__}: {exc}")


def _checked_outcomes(
    analyzer: Analyzer, items: Sequence[Item | Frame], outputs: list, per_item_ms: float
) -> list[Outcome]:
    validator = Draft202012Validator(payload_schema(analyzer.spec))
    outcomes = []
    for item, output in zip(items, outputs, strict=True):
        if isinstance(output, Result):
            problems = [_describe(e) for e in validator.iter_errors(dict(output.payload))]
            version = output.model_version or analyzer.spec.model_version
            if len(version) > MODEL_VERSION_MAX:
                output = AnalyzerError(
                    "analyzer_contract_violation",
                    f"model_version is {len(version)} characters (at most {MODEL_VERSION_MAX})",
                    permanent=True,
                )
            elif problems:
                output = AnalyzerError(
                    "invalid_result",
                    "result does not match the analyzer's schema: " + "; ".join(problems[:5]),
                    permanent=True,
                )
        elif not isinstance(output, AnalyzerError):
            output = AnalyzerError(
                "analyzer_contract_violation",
                f"analyze() returned {type(output).__name__}, not Result or AnalyzerError",
                permanent=True,
            )
        if isinstance(output, Result):
            outcomes.append(Outcome(item, output, None, per_item_ms))
        else:
            outcomes.append(Outcome(item, None, output, per_item_ms))
    return outcomes
