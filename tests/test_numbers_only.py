"""Text, booleans and complex numbers are never read as numbers, anywhere in the package.

One rule (:func:`skyield.utils.check_numeric`): what a file or a user holds as text,
even text that reads as a number ("1.5"), and booleans are refused with an error naming
the argument and where the value is; nothing converts them silently. The estimators'
inputs are covered in tests/test_common.py and tests/utils; these are the functions.
"""

import numpy as np
import pandas as pd
import pytest

from skyield.baselines import GaussianLinearStateSpace, fit_svensson
from skyield.curves import convert_compounding, present_value, zero_to_discount
from skyield.datasets import make_nelson_siegel_curves
from skyield.metrics import kupiec_test, mean_squared_error, pinball_loss
from skyield.scenarios import GaussianCopula
from skyield.statespace import kalman_filter, simulate_state_space
from skyield.utils import check_increasing_levels, check_maturities

TEXT = r"holds text \('0.02' at"
BOOLEANS = r"holds booleans \(True at"


@pytest.mark.parametrize("call, message", [
    (lambda: mean_squared_error(pd.Series(["1.5", 2.5], dtype=object), [1.5, 2.5]),
     r"y_true holds text \('1.5' at row 0\)"),
    (lambda: mean_squared_error([1.0, 0.0], np.array([True, False])), "y_pred " + BOOLEANS),
    (lambda: pinball_loss(np.zeros((3, 1)), np.zeros((3, 1, 2)),
                          np.array(["0.1", "0.9"], dtype=object)),
     r"holds text \('0.1' at position 0\)"),
    (lambda: zero_to_discount(None, pd.Series(["0.01", "0.02"], index=["1Y", "2Y"],
                                              dtype=object)),
     r"zero_rates holds text \('0.01' at row '1Y'\)"),
    (lambda: zero_to_discount(None, pd.Series([True, False], index=["1Y", "2Y"])),
     "zero_rates " + BOOLEANS),
    (lambda: zero_to_discount(["1", "2"], [0.01, 0.02]), r"maturities holds text"),
    (lambda: present_value([1.0, 2.0], ["10", "110"], [1, 2], [0.02, 0.02]),
     r"cash_flows holds text \('10' at position 0\)"),
    (lambda: convert_compounding([True], from_compounding="annual",
                                 to_compounding="continuous"), "rates " + BOOLEANS),
    (lambda: check_increasing_levels(["0.1", "0.9"]), r"quantiles holds text"),
    (lambda: check_maturities(["0.25", "10"]), r"maturities holds text"),
    (lambda: check_maturities([True, 2]), "maturities " + BOOLEANS),
    (lambda: make_nelson_siegel_curves(n_dates=12, noise_std="0.02"),
     "noise_std " + TEXT),
    (lambda: make_nelson_siegel_curves(n_dates=12, factor_cov=np.eye(3).astype(str)),
     r"factor_cov holds text"),
    (lambda: fit_svensson(np.ones((2, 4)), maturities=[1, 2, 5, 10], decay1="0.6",
                          decay2="0.1"), r"decay"),
    (lambda: GaussianLinearStateSpace(n_factors=3, decays=["0.6"]).fit(
        pd.DataFrame(np.ones((30, 4)), index=pd.date_range("2000", periods=30, freq="ME"),
                     columns=["1Y", "2Y", "5Y", "10Y"])), r"decays holds text"),
])
def test_text_and_booleans_are_refused_with_their_place(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("call, error, message", [
    (lambda: kalman_filter(np.array([[True], [False], [True]]), Z=[[1.0]], T=[[0.5]],
                           H=[[1.0]], Q=[[1.0]]), TypeError, "y must hold real numbers"),
    (lambda: simulate_state_space(np.ones((2, 1)), [[0.5]], np.eye(2, dtype=bool), [[1.0]],
                                  n=5, a0=[0.0]), TypeError, "H must hold real numbers"),
    (lambda: make_nelson_siegel_curves(n_dates=12, family_correlation="0.5"), TypeError,
     "family_correlation must be a number"),
    (lambda: make_nelson_siegel_curves(n_dates=12, family_correlation=True), TypeError,
     "family_correlation must be a number"),
    (lambda: GaussianCopula(np.eye(2)).sample_scores(2.9), ValueError,
     r"n_samples must be an integer in \[1, inf\), got 2.9"),
    (lambda: GaussianCopula(np.eye(2)).sample(True), ValueError,
     r"n_samples must be an integer in \[1, inf\), got True"),
])
def test_state_space_inputs_and_counts_are_not_coerced(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_hit_indicators_may_be_booleans():
    hits = np.zeros(20, dtype=bool)
    hits[3] = True
    assert kupiec_test(hits, coverage=0.95).statistic == pytest.approx(
        kupiec_test(hits.astype(float), coverage=0.95).statistic)
