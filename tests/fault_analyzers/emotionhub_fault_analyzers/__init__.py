"""Analyzers that misbehave in controlled ways, so tests can prove the core copes."""

import os
import time
from collections.abc import Sequence

from emotionhub.analyzers.contract import (
    CONTRACT_VERSION,
    Analyzer,
    AnalyzerError,
    AnalyzerSpec,
    Item,
    Result,
)

ALL_KINDS = frozenset({"image", "video", "text"})
ATTEMPT_RESULT = {
    "type": "object",
    "required": ["attempt"],
    "properties": {"attempt": {"type": "integer"}},
    "additionalProperties": False,
}


def fault_spec(name: str, settings: dict | None = None, **fields) -> AnalyzerSpec:
    """What every analyzer here shares: all media kinds, ``{"attempt": n}`` results, and
    ``settings`` (the settings schema's properties; no others allowed)."""
    return AnalyzerSpec(
        contract_version=CONTRACT_VERSION,
        name=name,
        version="1.0.0",
        media_kinds=ALL_KINDS,
        result_schema=ATTEMPT_RESULT,
        settings_schema={
            "type": "object",
            "properties": settings or {},
            "additionalProperties": False,
        },
        **fields,
    )


def attempt_result(item: Item) -> Result:
    """A success that says which attempt of the job produced it."""
    return Result({"attempt": item.metadata["attempt"]})


class FlakyAnalyzer(Analyzer):
    """Fails transiently on the first ``fail_times`` attempts, then succeeds; or, with
    ``fail_while_missing``, on every attempt until that file exists (an upstream outage
    that an operator fixes before re-running the quarantined job)."""

    spec = fault_spec(
        "flaky",
        {
            "fail_times": {"type": "integer", "minimum": 0},
            "fail_while_missing": {"type": "string"},
        },
    )

    def analyze(self, items: Sequence[Item]) -> list[Result | AnalyzerError]:
        out: list[Result | AnalyzerError] = []
        for item in items:
            attempt = item.metadata["attempt"]
            marker = item.settings.get("fail_while_missing")
            if marker is not None and not os.path.exists(marker):
                out.append(AnalyzerError("upstream_unavailable", f"{marker} is missing"))
            elif marker is None and attempt <= item.settings.get("fail_times", 1):
                out.append(AnalyzerError("upstream_timeout", f"attempt {attempt} timed out"))
            else:
                out.append(attempt_result(item))
        return out


class BrokenAnalyzer(Analyzer):
    """Every input is permanently unusable."""

    spec = fault_spec("broken")

    def analyze(self, items: Sequence[Item]) -> list[Result | AnalyzerError]:
        return [
            AnalyzerError("unsupported_content", "this input can never be analysed", permanent=True)
            for _ in items
        ]


class CrashingAnalyzer(Analyzer):
    """Raises an unexpected exception, or with ``hard`` kills its own process."""

    spec = fault_spec("crasher", {"hard": {"type": "boolean"}})

    def analyze(self, items: Sequence[Item]) -> list[Result | AnalyzerError]:
        if any(item.settings.get("hard") for item in items):
            os._exit(17)
        raise ZeroDivisionError("plugin bug: division by zero")


class BatchCrashingAnalyzer(Analyzer):
    """Takes batches of up to 8 and raises TypeError for the whole batch when any item
    asks for it with ``explode``, as a plugin does when one tenant's input breaks it."""

    spec = fault_spec("batch_crasher", {"explode": {"type": "boolean"}}, max_batch_size=8)

    def analyze(self, items: Sequence[Item]) -> list[Result | AnalyzerError]:
        if any(item.settings.get("explode") for item in items):
            raise TypeError("slice indices must be integers")
        return [attempt_result(item) for item in items]


class SlowAnalyzer(Analyzer):
    """Sleeps ``seconds`` while reporting progress, then succeeds."""

    spec = fault_spec("slow", {"seconds": {"type": "number", "minimum": 0, "maximum": 60}})

    def analyze(self, items: Sequence[Item]) -> list[Result | AnalyzerError]:
        out: list[Result | AnalyzerError] = []
        for item in items:
            seconds = item.settings.get("seconds", 1.0)
            steps = max(int(seconds * 10), 1)
            for step in range(steps):
                time.sleep(seconds / steps)
                item.report_progress((step + 1) / steps)
            out.append(attempt_result(item))
        return out


class BadSpecAnalyzer(Analyzer):
    """A spec that start-up validation must reject."""

    spec = AnalyzerSpec(
        contract_version=CONTRACT_VERSION,
        name="bad_spec",
        version="",
        media_kinds=frozenset({"audio"}),
        max_batch_size=0,
        result_schema={"type": "no-such-type"},
    )

    def analyze(self, items: Sequence[Item]) -> list[Result | AnalyzerError]:
        return []
