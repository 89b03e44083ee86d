"""Temperature scaling and expected calibration error on data with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ml.calibration import fit_temperature  # noqa: E402
from ml.metrics import expected_calibration_error  # noqa: E402 - after the importorskip


def test_ece_is_zero_when_confidence_matches_accuracy_and_the_gap_otherwise():
    # 10 predictions at confidence 0.8, 8 of them right: calibrated.
    probs = np.tile([0.8, 0.2], (10, 1))
    labels = np.array([0] * 8 + [1] * 2)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.0)
    # Same confidence, all right: under-confident by 0.2.
    assert expected_calibration_error(probs, np.zeros(10, dtype=int)) == pytest.approx(0.2)
    assert expected_calibration_error(np.zeros((0, 2)), np.zeros(0, dtype=int)) == 0.0


def test_fitted_temperature_recovers_the_one_that_generated_the_labels():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(20000, 3)).astype(np.float32)
    true_t = 2.0
    p = torch.softmax(torch.from_numpy(logits) / true_t, 1).numpy()
    labels = np.array([rng.choice(3, p=row) for row in p])
    t = fit_temperature(logits, labels)
    assert t == pytest.approx(true_t, rel=0.05)
    before = expected_calibration_error(torch.softmax(torch.from_numpy(logits), 1).numpy(), labels)
    after = expected_calibration_error(p, labels)
    assert after < 0.02 < before
