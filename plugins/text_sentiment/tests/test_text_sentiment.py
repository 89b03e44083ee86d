"""The text_sentiment analyzer on the inputs posts really contain."""

from __future__ import annotations

import jsonschema
import pytest
from emotionhub_text_sentiment.analyzer import RESULT_SCHEMA, TextSentimentAnalyzer

from emotionhub.analyzers.contract import AnalyzerError, Item, Result


def items(*texts, **settings):
    return [
        Item(id=str(i), kind="text", mime="text/plain", text=t, settings=settings)
        for i, t in enumerate(texts)
    ]


def payloads(results):
    for r in results:
        assert isinstance(r, Result), r
        jsonschema.validate(r.payload, RESULT_SCHEMA)
    return [r.payload for r in results]


def test_batch_keeps_order_and_labels_clear_posts(analyzer):
    pos, neg, neu = payloads(
        analyzer.analyze(
            items(
                "Best concert ever!!! 😍🎉 #amazing",
                "Worst customer service I have ever had, never again @user",
                "The store opens at 9am on weekdays, see https://example.com/hours",
            )
        )
    )
    assert (pos["label"], neg["label"], neu["label"]) == ("positive", "negative", "neutral")
    assert pos["score"] > 0.3 > -0.3 > neg["score"]
    assert pos["input"]["emoji"] == ["😍", "🎉"] and pos["input"]["hashtags"] == ["amazing"]
    assert neg["input"]["mentions"] == 1 and neu["input"]["urls"] == 1
    assert pos["scored"] and pos["language"]["code"] == "en"
    assert pos["emotion_label"] == "joy"


def test_empty_text_is_a_permanent_error_and_siblings_still_succeed(analyzer):
    empty, blank, ok = analyzer.analyze(items("", "   \n", "lovely"))
    for err in (empty, blank):
        assert isinstance(err, AnalyzerError) and err.code == "empty_text" and err.permanent
    assert isinstance(ok, Result) and ok.payload["label"] == "positive"


def test_non_english_is_reported_not_guessed_unless_asked(analyzer):
    text = "Je déteste ce téléphone, il est vraiment nul et très lent"
    (skipped,) = payloads(analyzer.analyze(items(text)))
    assert not skipped["scored"] and skipped["label"] is None and skipped["score"] is None
    assert skipped["language"] == {
        "code": "fr",
        "confidence": pytest.approx(1, abs=0.1),
        "reliable": True,
    }
    (scored,) = payloads(analyzer.analyze(items(text, non_english="score")))
    assert scored["scored"] and scored["label"] in ("negative", "neutral", "positive")


def test_very_long_text_is_truncated_and_says_so(analyzer):
    (short, long) = payloads(analyzer.analyze(items("great", "great product. " * 2000)))
    assert not short["input"]["truncated"]
    assert long["input"]["truncated"] and long["input"]["tokens"] > long["input"]["max_tokens"]
    assert long["input"]["chars"] == len("great product. " * 2000)


def test_uncertain_threshold_is_a_setting(analyzer):
    (strict,) = payloads(analyzer.analyze(items("it was ok I guess", uncertain_below=0.99)))
    assert strict["uncertain"]
    (lax,) = payloads(analyzer.analyze(items("it was ok I guess", uncertain_below=0.0)))
    assert not lax["uncertain"]


def test_spec_is_valid_and_results_name_the_weights(analyzer):
    from emotionhub.analyzers.registry import spec_problems

    assert TextSentimentAnalyzer.spec.name == "text_sentiment"
    assert spec_problems("text_sentiment") == []
    (result,) = analyzer.analyze(items("fine"))
    assert len(result.weights_sha256) == 64
