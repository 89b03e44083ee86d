"""Runs one batch through an analyzer and turns whatever happens into per-item outcomes.

Shared by the Celery worker and ``manage.py analyze_files`` so both behave the same:
results are checked against the analyzer's schema, and an exception never escapes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

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
    return _run(analyzer, items, "analyze", "items")


def run_frames(analyzer: Analyzer, frames: Sequence[Frame]) -> list[Outcome]:
    """The real-time path: decoded frames through ``analyze_frames``, checked the same way
    (schema, model version, contract), so a live answer is what a stored result would be.
    As in :func:`run_batch`, a batch that raises is run again frame by frame, so one
    stream's bad frame does not fail the other streams' frames of its batch."""
    return _run(analyzer, frames, "analyze_frames", "frames")


def _run(
    analyzer: Analyzer, inputs: Sequence[Item | Frame], method: str, noun: str
) -> list[Outcome]:
    """``inputs`` through ``analyzer.<method>``; ``noun`` names them in contract errors."""
    started = time.perf_counter()
    raised = _analyze(getattr(analyzer, method), inputs)
    if isinstance(raised, AnalyzerError) and len(inputs) > 1:
        return [outcome for one in inputs for outcome in _run(analyzer, [one], method, noun)]
    outputs = [raised] * len(inputs) if isinstance(raised, AnalyzerError) else raised
    if len(outputs) != len(inputs):
        violation = _violation(
            f"{method}() returned {len(outputs)} outcomes for {len(inputs)} {noun}"
        )
        outputs = [violation] * len(inputs)
    per_item_ms = (time.perf_counter() - started) * 1000 / max(len(inputs), 1)
    return _checked_outcomes(analyzer, inputs, outputs, per_item_ms, method)


def _analyze(analyze: Callable[[Any], Iterable[Any]], inputs: Sequence) -> list | AnalyzerError:
    """``analyze``'s outputs, or the error it raised (an exception never escapes)."""
    try:
        return list(analyze(inputs))
    except AnalyzerError as exc:
        return exc
    except Exception as exc:  # a plugin bug must not take the worker down
        return AnalyzerError("analyzer_crashed", f"{type(exc).__name__}: {exc}")


def _violation(message: str) -> AnalyzerError:
    """The plugin broke the contract: retrying cannot help."""
    return AnalyzerError("analyzer_contract_violation", message, permanent=True)


def _checked_outcomes(
    analyzer: Analyzer,
    items: Sequence[Item | Frame],
    outputs: list,
    per_item_ms: float,
    method: str,
) -> list[Outcome]:
    validator = Draft202012Validator(payload_schema(analyzer.spec))
    outcomes = []
    for item, output in zip(items, outputs, strict=True):
        if isinstance(output, Result):
            problems = [_describe(e) for e in validator.iter_errors(dict(output.payload))]
            version = output.model_version or analyzer.spec.model_version
            if len(version) > MODEL_VERSION_MAX:
                output = _violation(
                    f"model_version is {len(version)} characters (at most {MODEL_VERSION_MAX})"
                )
            elif problems:
                output = AnalyzerError(
                    "invalid_result",
                    "result does not match the analyzer's schema: " + "; ".join(problems[:5]),
                    permanent=True,
                )
        elif not isinstance(output, AnalyzerError):
            output = _violation(
                f"{method}() returned {type(output).__name__}, not Result or AnalyzerError"
            )
        if isinstance(output, Result):
            outcomes.append(Outcome(item, output, None, per_item_ms))
        else:
            outcomes.append(Outcome(item, None, output, per_item_ms))
    return outcomes
