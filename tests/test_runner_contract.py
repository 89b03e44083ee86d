"""The runner enforces the plugin contract, whatever a plugin returns or raises."""

from collections.abc import Sequence

import pytest

from emotionhub.analyzers.contract import Analyzer, AnalyzerError, AnalyzerSpec, Item, Result
from emotionhub.analyzers.runner import run_batch

SCHEMA = {
    "type": "object",
    "required": ["score"],
    "properties": {"score": {"type": "number", "minimum": 0, "maximum": 1}},
    "additionalProperties": False,
}


class Scripted(Analyzer):
    """Returns whatever the test scripted, to exercise each branch of the runner."""

    spec = AnalyzerSpec(
        name="scripted", version="1", media_kinds=frozenset({"text"}), result_schema=SCHEMA
    )

    def __init__(self, behaviour):
        self.behaviour = behaviour

    def analyze(self, items: Sequence[Item]):
        return self.behaviour(items)


ITEMS = [Item(id=str(i), kind="text", mime="text/plain", text=f"t{i}") for i in range(3)]


def codes(outcomes):
    return [o.error.code if o.error else "ok" for o in outcomes]


def test_per_item_results_and_errors_keep_their_order():
    def behave(items):
        return [
            Result({"score": 0.5}),
            AnalyzerError("bad", "no", permanent=True),
            Result({"score": 1}),
        ]

    outcomes = run_batch(Scripted(behave), ITEMS)
    assert codes(outcomes) == ["ok", "bad", "ok"]
    assert [o.item.id for o in outcomes] == ["0", "1", "2"]
    assert outcomes[1].error.permanent


def test_result_breaking_the_schema_is_a_permanent_invalid_result():
    outcomes = run_batch(Scripted(lambda items: [Result({"score": 7})] * 3), ITEMS)
    assert codes(outcomes) == ["invalid_result"] * 3
    assert outcomes[0].error.permanent and "score" in outcomes[0].error.message


def test_model_version_longer_than_results_can_store_is_a_contract_violation():
    def behave(items):
        return [
            Result({"score": 0.1}, model_version="v" * 101),
            Result({"score": 0.2}),
            Result({"score": 0.3}, model_version="v" * 100),
        ]

    outcomes = run_batch(Scripted(behave), ITEMS)
    assert codes(outcomes) == ["analyzer_contract_violation", "ok", "ok"]
    assert "101 characters" in outcomes[0].error.message and outcomes[0].error.permanent


def test_wrong_number_of_outcomes_is_a_contract_violation():
    outcomes = run_batch(Scripted(lambda items: [Result({"score": 0})]), ITEMS)
    assert codes(outcomes) == ["analyzer_contract_violation"] * 3


def test_unexpected_exception_is_a_transient_crash_for_every_item():
    def behave(items):
        raise KeyError("missing")

    outcomes = run_batch(Scripted(behave), ITEMS)
    assert codes(outcomes) == ["analyzer_crashed"] * 3
    assert not outcomes[0].error.permanent and "KeyError" in outcomes[0].error.message


def test_raised_analyzer_error_applies_to_the_whole_batch():
    def behave(items):
        raise AnalyzerError("model_unavailable", "weights missing", permanent=True)

    assert codes(run_batch(Scripted(behave), ITEMS)) == ["model_unavailable"] * 3


def test_returning_something_else_is_a_contract_violation():
    outcomes = run_batch(Scripted(lambda items: [{"score": 0.1}] * 3), ITEMS)
    assert codes(outcomes) == ["analyzer_contract_violation"] * 3


def test_torch_threads_setting_limits_worker_threads(settings):
    torch = pytest.importorskip("torch")
    from emotionhub.analyzers import registry

    before = torch.get_num_threads()
    try:
        settings.EMOTIONHUB_TORCH_THREADS = 1
        registry._limit_torch_threads()
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
