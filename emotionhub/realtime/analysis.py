"""One decoded frame through a plan's analyzers, answered in the stored result's shape."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import Future

from emotionhub.analyzers import registry
from emotionhub.analyzers.contract import Frame
from emotionhub.core.errors import DomainError
from emotionhub.realtime import engine
from emotionhub.realtime.frames import DecodedFrame, decode_frame
from emotionhub.realtime.policy import RealtimePlan

#: Seconds a caller waits for its frame before answering ``analysis_timeout``.
WAIT_TIMEOUT_S = 30.0


def submit(
    plan: RealtimePlan, decoded: DecodedFrame, frame_id: str, source: str = ""
) -> list[Future]:
    """Queue the frame on every analyzer's batcher (loading models on first use);
    ``source`` names the stream, so the batcher can wait for its peers' frames."""
    return [
        engine.batcher(name).submit(
            Frame(frame_id, decoded.image, plan.analyzer_settings.get(name, {})),
            source or frame_id,
        )
        for name in plan.analyzers
    ]


def submit_encoded(plan: RealtimePlan, data: bytes, frame_id: str, source: str) -> list[Future]:
    """Put a stream's encoded frame in its slot on every analyzer's batcher; it is decoded
    (and refused with the upload codes) only if the batcher takes it before a newer one."""

    def loader(name: str):
        def load() -> tuple[Frame, float]:
            decoded = decode_frame(data, field="frame")
            frame = Frame(frame_id, decoded.image, plan.analyzer_settings.get(name, {}))
            return frame, decoded.decode_ms

        return load

    return [engine.batcher(name).submit(loader(name), source) for name in plan.analyzers]


def result_entries(plan: RealtimePlan, outcomes: list[engine.FrameOutcome]) -> list[dict]:
    """Per analyzer: what an AnalysisResult would hold (payload, versions, device) plus the
    batch it ran in; ``error`` instead of ``payload`` when the analyzer failed."""
    entries = []
    for name, outcome in zip(plan.analyzers, outcomes, strict=True):
        spec = registry.get_spec(name)
        entry = {
            "analyzer": name,
            "analyzer_version": spec.version,
            "device": outcome.device,
            "settings": plan.analyzer_settings.get(name, {}),
            "queue_ms": round(outcome.queue_ms, 2),
            "inference_ms": round(outcome.inference_ms, 2),
            "batch_size": outcome.batch_size,
        }
        if outcome.result is not None:
            entry |= {
                "model_version": outcome.result.model_version or spec.model_version,
                "weights_sha256": outcome.result.weights_sha256 or spec.weights_sha256,
                "payload": dict(outcome.result.payload),
                "error": None,
            }
        else:
            assert outcome.error is not None  # an outcome has a result or an error
            entry |= {
                "model_version": spec.model_version,
                "weights_sha256": spec.weights_sha256,
                "payload": None,
                "error": {"code": outcome.error.code, "message": outcome.error.message},
            }
        entries.append(entry)
    return entries


def analyze_now(plan: RealtimePlan, decoded: DecodedFrame, started: float) -> dict:
    """Blocking: analyse one frame and build the ``POST /analyze`` answer.

    ``started`` is ``time.perf_counter()`` when the request arrived (for ``total_ms``).
    """
    source = f"http:{uuid.uuid4()}"
    futures = submit(plan, decoded, "http", source=source)
    try:
        outcomes = [future.result(timeout=WAIT_TIMEOUT_S) for future in futures]
    except TimeoutError:
        raise DomainError(
            "analysis_timeout",
            f"The frame was not analysed within {WAIT_TIMEOUT_S:.0f} s; the server is busy.",
            status=503,
            retry_after=5,
        ) from None
    finally:  # one request is one frame: the batcher need not expect another from it
        for name in plan.analyzers:
            engine.batcher(name).withdraw(source)
    entries = result_entries(plan, outcomes)
    if all(entry["error"] for entry in entries):
        first = entries[0]["error"]
        raise DomainError(
            "analysis_failed",
            f"No analyzer could analyse the frame: {first['message']}",
            status=503,
            details={"errors": {e["analyzer"]: e["error"] for e in entries}},
        )
    return {
        "stored": False,
        "image": {"width": decoded.width, "height": decoded.height, "mime": decoded.mime},
        "results": entries,
        "decode_ms": round(decoded.decode_ms, 2),
        "inference_ms": round(max(o.inference_ms for o in outcomes), 2),
        "total_ms": round((time.perf_counter() - started) * 1000, 2),
    }
