"""Analyzer capabilities: declared in the spec, checked at start-up, enforced per payload,
and the only way the core finds face and sentiment analyzers.

The third-party plugin ``centre_face`` (tests/third_party_analyzer, installed like any
plugin through its entry point) declares ``faces``; no core module names it, yet its
results reach review, face blurring and the dashboards.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emotionhub.accounts.models import Tenant
from emotionhub.analyzers import registry
from emotionhub.analyzers.contract import (
    CAPABILITIES,
    CONTRACT_VERSION,
    Analyzer,
    AnalyzerSpec,
    Item,
    Result,
    capability_problems,
    sentiment_polarity,
)
from emotionhub.analyzers.runner import run_batch
from emotionhub.jobs.models import AnalysisResult
from emotionhub.reporting import facts
from emotionhub.reporting.face_blur import stored_face_boxes
from emotionhub.reporting.models import Brand, ResultFact
from emotionhub.review.targets import NOT_A_FACE, reviewable_analyzers, targets
from tests.reporting.conftest import make_media, make_reviewer, signed_in

PHOTO = Path(__file__).parent / "data" / "photos" / "obama.jpg"
SENTIMENT_SCHEMA = {
    "type": "object",
    "required": ["label", "score"],
    "properties": {"label": {"type": ["string", "null"]}, "score": {"type": ["number", "null"]}},
}


def spec(**fields) -> AnalyzerSpec:
    base = AnalyzerSpec(
        contract_version=CONTRACT_VERSION,
        name="probe",
        version="1",
        media_kinds=frozenset({"text"}),
        result_schema=SENTIMENT_SCHEMA,
    )
    return dataclasses.replace(base, **fields)


# --- the contract ----------------------------------------------------------------------------


def test_every_capability_documents_its_fragment_and_readers():
    for capability in CAPABILITIES.values():
        assert capability.description and capability.readers and capability.declares


def test_a_capability_the_result_schema_does_not_declare_is_a_start_up_error():
    assert capability_problems(spec(produces=frozenset({"sentiment"}))) == []
    (problem,) = capability_problems(spec(produces=frozenset({"faces"})))
    assert "produces 'faces'" in problem and "faces[].box" in problem
    (problem,) = capability_problems(spec(produces=frozenset({"telepathy"})))
    assert "unknown capability 'telepathy'" in problem


def test_every_branch_of_a_one_of_schema_must_carry_the_capability():
    faces = {
        "type": "object",
        "properties": {
            "faces": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"box": {}, "label": {}, "confidence": {}},
                },
            }
        },
    }
    other = {"type": "object", "properties": {"count": {"type": "integer"}}}
    ok = spec(produces=frozenset({"faces"}), result_schema={"oneOf": [faces]})
    half = spec(produces=frozenset({"faces"}), result_schema={"oneOf": [faces, other]})
    assert capability_problems(ok) == []
    assert len(capability_problems(half)) == 1


@pytest.mark.parametrize(
    ("declared", "problem"),
    [
        (CONTRACT_VERSION + 1, f"written for analyzer contract {CONTRACT_VERSION + 1}"),
        (0, "written for analyzer contract 0"),
        ("1", "must be an integer"),
    ],
)
def test_the_registry_checks_the_declared_contract_version(declared, problem):
    (message,) = registry.contract_version_problems(spec(contract_version=declared))
    assert problem in message
    assert registry.contract_version_problems(spec()) == []
    assert registry.contract_version_problems(spec(contract_version=None)) == []  # before 1


def test_the_shipped_plugins_declare_what_the_core_reads():
    assert registry.analyzers_producing("faces") >= {"facial_emotion", "centre_face"}
    assert registry.analyzers_producing("sentiment") == {"text_sentiment", "image_sentiment"}
    assert registry.analyzers_producing("face_boxes") >= {"facial_emotion", "image_sentiment"}
    assert "example" not in reviewable_analyzers()


def test_real_time_requests_default_to_the_realtime_face_analyzers(settings):
    from emotionhub.realtime import policy

    # centre_face reports faces but cannot run in real time: not a default.
    assert policy.default_analyzers() == ("facial_emotion",)
    settings.EMOTIONHUB_ANALYZERS = ["text_sentiment", "centre_face"]
    assert policy.default_analyzers() == ()


def test_sentiment_polarity_is_one_rule():
    assert sentiment_polarity({"label": "negative", "score": -0.4}) == -0.4
    assert sentiment_polarity({"label": "positive", "score": None}) == 1.0
    assert sentiment_polarity({"label": "positive", "score": 3}) == 1.0  # out of range
    assert sentiment_polarity({"label": "neutral", "score": 0.5, "scored": False}) is None
    assert sentiment_polarity({"label": None, "score": None}) is None
    assert sentiment_polarity("nonsense") is None


class _LooseSentiment(Analyzer):
    """Its own schema takes any label; the ``sentiment`` capability does not."""

    spec = spec(name="loose", produces=frozenset({"sentiment"}))

    def analyze(self, items):
        return [Result({"label": item.text, "score": 0.1}) for item in items]


def test_the_runner_enforces_the_fragments_of_declared_capabilities():
    items = [Item(id="1", kind="text", mime="text/plain", text=t) for t in ("positive", "meh")]
    good, bad = run_batch(_LooseSentiment(), items)
    assert good.result is not None and good.error is None
    assert bad.result is None and bad.error.code == "invalid_result"
    assert "'meh'" in bad.error.message


# --- a third-party plugin reaches review, blurring and dashboards ----------------------------


@pytest.fixture
def tenant(db) -> Tenant:
    return Tenant.objects.create(name="Gamma", slug="gamma")


@pytest.fixture
def centre_face_result(tenant):
    data = PHOTO.read_bytes()
    media = make_media(tenant, "image", image=data)
    media.mime = "image/jpeg"
    media.save(update_fields=["mime"])
    assert "centre_face" in registry.installed_entry_points(), (
        "install tests/third_party_analyzer into var/test-plugins (scripts/test.sh does)"
    )
    analyzer = registry._load_class("centre_face")()
    (outcome,) = run_batch(
        analyzer,
        [Item(id=str(media.pk), kind="image", mime="image/jpeg", path=Path(media.file.path))],
    )
    assert outcome.error is None, outcome.error
    return AnalysisResult.objects.create(
        tenant=tenant,
        media=media,
        analyzer="centre_face",
        analyzer_version="1.0.0",
        model_version="",
        payload=dict(outcome.result.payload),
        device="cpu",
        duration_ms=1.0,
    )


@pytest.mark.django_db
def test_a_third_party_face_plugin_reaches_review(tenant, centre_face_result):
    (target,) = targets(centre_face_result)
    assert (target.name, target.model_label, target.face_index) == ("face:0", "happy", 0)
    assert set(target.choices) == {"happy", "sad", NOT_A_FACE}  # its own classes
    assert target.box == tuple(centre_face_result.payload["faces"][0]["box"])
    client = signed_in(make_reviewer(tenant, "rev"))
    queue = client.get("/admin/review/reviewitem/")
    assert queue.context["cl"].result_count == 1
    page = client.get(f"/admin/review/reviewitem/{centre_face_result.pk}/change/")
    assert page.status_code == 200 and "face:0" in page.content.decode()


@pytest.mark.django_db
def test_a_third_party_face_plugin_reaches_face_blurring(tenant, centre_face_result):
    media = centre_face_result.media
    box = centre_face_result.payload["faces"][0]["box"]
    assert stored_face_boxes(media) == [tuple(box)]
    viewer = signed_in(make_reviewer(tenant, "viewer"))
    size = max(media.width, media.height)

    def served() -> np.ndarray:
        answer = viewer.get(f"/reporting/media/{media.pk}/image?size={size}")
        assert answer.status_code == 200
        return np.asarray(Image.open(io.BytesIO(answer.content)).convert("RGB")).astype(int)

    plain = served()
    tenant.blur_faces = True
    tenant.save(update_fields=["blur_faces"])
    blurred = served()
    x1, y1, x2, y2 = (int(v) for v in box)
    change = np.abs(plain - blurred).sum(axis=2)
    assert change[y1:y2, x1:x2].mean() > 20
    assert change[:16, :16].max() == 0  # a corner far from the box is untouched


@pytest.mark.django_db
def test_a_third_party_face_plugin_reaches_the_dashboards(tenant, centre_face_result):
    facts.sync(full=True)
    fact = ResultFact.objects.get(result=centre_face_result)
    assert (fact.emotion, fact.label, fact.face_count, fact.confidence) == (
        "happy",
        "happy",
        1,
        0.75,
    )
    brand = Brand.objects.create(tenant=tenant, name="All")
    client = signed_in(make_reviewer(tenant, "analyst"))
    day = fact.occurred_at.date().isoformat()
    page = client.get(f"/reporting/brands/{brand.pk}/", {"start": day, "end": day})
    assert page.status_code == 200
    emotions = page.context["chart_data"]["emotions"]
    # on the dashboards' one emotion scale (reporting/emotions.py): happy counts as joy
    assert [(row["emotion"], row["count"]) for row in emotions] == [("joy", 1)]
    assert "centre_face" in page.context["analyzers"]
    json.dumps(page.context["chart_data"])  # what the page hands to dashboard.js
