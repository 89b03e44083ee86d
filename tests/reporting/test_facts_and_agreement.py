"""Facts pulled from payloads (and kept in step with re-runs); the agreement report."""

from __future__ import annotations

import pytest

from emotionhub.reporting import facts
from emotionhub.reporting.models import ResultFact
from emotionhub.review import agreement, labels
from tests.reporting.conftest import (
    face,
    face_payload,
    image_sentiment_payload,
    make_media,
    make_post,
    make_result,
    make_reviewer,
    make_source,
    text_payload,
)

pytestmark = pytest.mark.django_db


def test_extract_reads_each_analyzer_shape():
    faces = face_payload(
        [
            face((0, 0, 5, 5), "sad", 0.6),
            face((0, 0, 5, 5), "happy", 0.9),
            face((1, 1, 4, 4), "sad", 0.3),
        ]
    )
    assert facts.extract("facial_emotion", faces) == {
        "label": "sad",
        "emotion": "sad",
        "polarity": None,
        "confidence": 0.3,
        "face_count": 3,
        "disagreement": False,
    }
    text = facts.extract("text_sentiment", text_payload("negative", -0.55, 0.8))
    assert (text["label"], text["polarity"], text["confidence"], text["emotion"]) == (
        "negative",
        -0.55,
        0.8,
        "joy",
    )
    unscored = facts.extract("text_sentiment", text_payload(None, None))
    assert unscored["polarity"] is None and unscored["label"] == ""
    fused = facts.extract("image_sentiment", image_sentiment_payload("positive", 0.4, True))
    assert (fused["polarity"], fused["disagreement"]) == (0.4, True)
    # A label without a score still votes; other analyzers never vote.
    assert facts.extract("text_sentiment", {"label": "positive"})["polarity"] == 1.0
    assert facts.extract("example", {"label": "positive", "score": 0.9})["polarity"] is None
    assert facts.extract("facial_emotion", "not a dict")["label"] == ""


def test_sync_fills_facts_once_and_marks_reruns(tenant_a):
    source = make_source(tenant_a, "Feed")
    post = make_post(source, "hello")
    media = make_media(tenant_a, "text", text="hello", post=post)
    old = make_result(media, "text_sentiment", text_payload("negative", -0.5), "m1")
    assert facts.sync() == 1
    assert facts.sync() == 0
    fact = ResultFact.objects.get()
    assert (fact.source_id, fact.post_id, fact.occurred_at) == (
        source.pk,
        post.pk,
        post.ingested_at,
    )
    new = make_result(media, "text_sentiment", text_payload("positive", 0.5), "m2")
    assert facts.sync() == 1
    current = dict(ResultFact.objects.values_list("result_id", "current"))
    assert current == {old.pk: False, new.pk: True}
    new.delete()
    assert facts.sync(full=True) == 0
    assert not ResultFact.objects.filter(result_id=new.pk).exists()


def test_agreement_per_analyzer_and_model_version(tenant_a):
    user = make_reviewer(tenant_a, "rev")
    truth_and_model = [
        ("positive", "positive"),
        ("positive", "negative"),
        ("negative", "negative"),
        ("neutral", "positive"),
    ]
    for i, (truth, predicted) in enumerate(truth_and_model):
        media = make_media(tenant_a, "text", text=f"text {i}")
        result = make_result(media, "text_sentiment", text_payload(predicted, 0.0), "v1")
        labels.record(result, "post", truth, user)
    media = make_media(tenant_a, "text", text="other model")
    result = make_result(media, "text_sentiment", text_payload("neutral", 0.0), "v2")
    labels.record(result, "post", "neutral", user)

    reports = {r["model_version"]: r for r in agreement.agreement(tenant_a)}
    v1 = reports["v1"]
    assert v1["n"] == 4 and v1["accuracy"] == 0.5
    assert v1["classes"] == ["negative", "neutral", "positive"]
    # rows: reviewed, columns: model
    assert v1["confusion_matrix"] == [[1, 0, 0], [0, 0, 1], [1, 0, 1]]
    assert v1["per_class"]["positive"] == {
        "precision": 0.5,
        "recall": 0.5,
        "f1": 0.5,
        "support": 2,
    }
    assert v1["per_class"]["negative"]["precision"] == 0.5
    assert v1["per_class"]["negative"]["recall"] == 1.0
    assert reports["v2"]["accuracy"] == 1.0 and reports["v2"]["n"] == 1
