"""The numpy logistic fit agrees with scikit-learn's (the reference implementation)."""

from __future__ import annotations

import numpy as np
import pytest

from safehold.grooming.calibration import fit_logistic, fit_risk_model
from safehold.grooming.features import FEATURE_NAMES
from safehold.grooming.model import Conversation
from safehold.grooming.patterns import PatternDetector


def test_matches_sklearn_l2_logistic_regression() -> None:
    linear_model = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5)) * [1, 2, 3, 0.5, 1] + [0, 1, 2, 3, 4]
    y = (x @ [1.0, -0.5, 0.3, 2.0, 0.0] + rng.normal(size=400) > 1.5).astype(float)
    weights, bias, mean, scale = fit_logistic(x, y, l2=2.0)
    reference = linear_model.LogisticRegression(C=1 / 2.0, tol=1e-10, max_iter=10_000)
    reference.fit((x - mean) / scale, y)
    assert np.allclose(weights, reference.coef_[0], atol=1e-4)
    assert bias == pytest.approx(reference.intercept_[0], abs=1e-4)


def test_sign_constraints() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 2))
    y = (x[:, 0] - x[:, 1] > 0).astype(float)
    weights, *_ = fit_logistic(x, y, signs=np.array([1.0, 1.0]))
    assert weights[0] > 0
    assert weights[1] == 0.0


def test_fit_risk_model(small_train: list[Conversation]) -> None:
    model = fit_risk_model(small_train, PatternDetector())
    assert model.name == "pattern"
    assert len(model.weights) == len(FEATURE_NAMES)
