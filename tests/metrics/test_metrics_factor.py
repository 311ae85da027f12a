import numpy as np
import pytest

from skyield.metrics import (
    FactorScaling,
    factor_fit,
    factor_gain,
    factor_r2,
    factor_scaling,
    factor_scores,
)

T = np.arange(40.0)
X = np.sin(0.7 * T) + 0.5 * np.cos(0.13 * T)  # true factor
CAL = 20  # first 20 periods calibrate, last 20 evaluate


def test_scaling_recovers_affine_map_including_sign():
    scaling = factor_scaling(X, 3.0 - 2.0 * X)
    assert scaling.intercept == pytest.approx(1.5, abs=1e-9)
    assert scaling.slope == pytest.approx(-0.5, abs=1e-9)
    np.testing.assert_allclose(scaling.transform(3.0 - 2.0 * X), X, atol=1e-9)


def test_scaling_minimises_absolute_not_squared_errors():
    # one gross outlier of the true factor in the calibration span: the LAD line
    # still fits the other 19 points exactly, a least-squares line would not
    x_true = X.copy()
    x_true[5] += 50.0
    estimate = 2.0 * X + 1.0
    scaling = factor_scaling(x_true, estimate, calibration=CAL)
    assert scaling.slope == pytest.approx(0.5, abs=1e-9)
    assert scaling.intercept == pytest.approx(-0.5, abs=1e-9)
    slope_ls, _ = np.polyfit(estimate[:CAL], x_true[:CAL], 1)
    assert abs(slope_ls - 0.5) > 1e-2


def test_scaling_uses_calibration_span_only():
    estimate = 2.0 * X + 1.0
    corrupted = estimate.copy()
    corrupted[CAL:] = 100.0 * np.cos(T[CAL:])  # changes outside the calibration span
    assert factor_scaling(X, corrupted, calibration=CAL) == pytest.approx(
        factor_scaling(X, estimate, calibration=CAL)
    )


@pytest.mark.parametrize(
    "calibration",
    [CAL, slice(0, CAL), np.arange(40) < CAL, np.arange(CAL), list(range(CAL))],
)
def test_calibration_spellings_agree(calibration):
    estimate = X + 0.3 * np.cos(2.1 * T)
    reference = factor_r2(X, estimate, calibration=CAL)
    assert factor_r2(X, estimate, calibration=calibration) == pytest.approx(reference)


def test_r2_hand_computed_on_evaluation_span():
    # exact affine relation on the calibration span -> scaling is x_hat = (e - 1) / 2;
    # on the evaluation span the estimate is off by delta, so x_hat = x + delta / 2
    delta = np.where(np.arange(20) % 2 == 0, 0.4, -0.2)
    estimate = 2.0 * X + 1.0
    estimate[CAL:] += delta
    mse = np.mean((delta / 2) ** 2)
    variance = np.mean((X[CAL:] - X[CAL:].mean()) ** 2)
    assert factor_r2(X, estimate, calibration=CAL) == pytest.approx(1 - mse / variance)


def test_perfect_estimates_get_perfect_scores():
    reference = X + 0.4 * np.cos(3.0 * T)
    oracle = X + 0.1 * np.cos(5.0 * T)
    perfect = -4.0 * X + 2.0
    assert factor_r2(X, perfect, calibration=CAL) == pytest.approx(1.0)
    assert factor_fit(X, perfect, reference, calibration=CAL) == pytest.approx(100.0)
    # matching the oracle up to the allowed scaling closes the whole gap
    assert factor_gain(X, 3.0 * oracle - 1.0, reference, oracle, calibration=CAL) == (
        pytest.approx(100.0)
    )
    # matching the reference is a tie
    assert factor_fit(X, 0.5 * reference, reference, calibration=CAL) == pytest.approx(0.0)
    assert factor_gain(X, reference + 7.0, reference, oracle, calibration=CAL) == (
        pytest.approx(0.0, abs=1e-8)
    )


def _exact_on_calibration(errors):
    estimate = X.copy()
    estimate[CAL:] += errors
    return estimate


def test_fit_and_gain_hand_computed():
    # all estimates equal X on the calibration span, so every scaling is the identity
    a = np.full(20, 0.1) * np.where(np.arange(20) % 2 == 0, 1, -1)  # MSE 0.01
    b = np.full(20, 0.3) * np.where(np.arange(20) % 3 == 0, 1, -1)  # MSE 0.09
    c = np.full(20, 0.05) * np.where(np.arange(20) % 4 == 0, 1, -1)  # MSE 0.0025
    estimate, reference, oracle = map(_exact_on_calibration, (a, b, c))
    fit = factor_fit(X, estimate, reference, calibration=CAL)
    assert fit == pytest.approx(100 * (0.09 - 0.01) / 0.09)
    gain = factor_gain(X, estimate, reference, oracle, calibration=CAL)
    assert gain == pytest.approx(100 * (0.09 - 0.01) / (0.09 - 0.0025))
    scores = factor_scores(X, estimate, reference=reference, oracle=oracle, calibration=CAL)
    assert scores["mse"] == pytest.approx(0.01)
    assert scores["mse_reference"] == pytest.approx(0.09)
    assert scores["mse_oracle"] == pytest.approx(0.0025)
    assert scores["fit"] == pytest.approx(fit)
    assert scores["gain"] == pytest.approx(gain)
    assert scores["r2"] == pytest.approx(factor_r2(X, estimate, calibration=CAL))
    assert scores["slope"] == pytest.approx(1.0) and scores["intercept"] == pytest.approx(0.0)
    assert scores["corr"] == pytest.approx(np.corrcoef(X[CAL:], estimate[CAL:])[0, 1])


def test_scores_keys_depend_on_baselines():
    estimate = X + 0.2 * np.cos(2.0 * T)
    assert set(factor_scores(X, estimate, calibration=CAL)) == {
        "intercept", "slope", "mse", "r2", "corr"
    }
    with_oracle = factor_scores(X, estimate, oracle=X, calibration=CAL)
    assert "gain" not in with_oracle and "r2_oracle" in with_oracle


def test_explicit_evaluation_span():
    estimate = _exact_on_calibration(np.where(np.arange(20) < 10, 0.2, 0.0))
    # scoring only the last 10 periods sees no error at all
    assert factor_r2(X, estimate, calibration=CAL, evaluation=slice(30, 40)) == (
        pytest.approx(1.0)
    )


def test_nan_outside_spans_is_allowed_inside_is_an_error():
    estimate = 2.0 * X
    estimate[:3] = np.nan  # e.g. dates without a full window
    span = {"calibration": slice(3, 20), "evaluation": slice(20, 40)}
    assert factor_r2(X, estimate, **span) == pytest.approx(1.0)
    in_calibration = "x_estimate is not finite at index 0, inside the calibration"
    with pytest.raises(ValueError, match=in_calibration):
        factor_r2(X, estimate, calibration=CAL)
    broken = 2.0 * X
    broken[25] = np.nan
    in_evaluation = "reference is not finite at index 25, inside the evaluation"
    with pytest.raises(ValueError, match=in_evaluation):
        factor_scores(X, 2.0 * X, reference=broken, calibration=CAL)


def test_degenerate_denominators_warn_and_return_nan():
    with pytest.warns(RuntimeWarning, match="Gain is undefined"):
        gain = factor_gain(X, X + 0.1 * np.cos(T), X, 2.0 * X, calibration=CAL)
    assert np.isnan(gain)
    with pytest.warns(RuntimeWarning, match="Fit is undefined"):
        assert np.isnan(factor_fit(X, X + 0.1 * np.cos(T), -X, calibration=CAL))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"calibration": 40}, ValueError, "calibration covers every period"),
        ({"calibration": 1}, ValueError, "calibration must select at least 2 periods"),
        ({"calibration": 0}, ValueError, "calibration=0 must count the first periods"),
        ({"calibration": True}, TypeError, "calibration must be an int, a slice or an array"),
        ({"calibration": np.ones(39, bool)}, ValueError, r"boolean mask must have shape \(40,\)"),
        ({"calibration": [0, 50]}, ValueError, "calibration holds indices outside"),
        ({"calibration": [0.5, 1.5]}, TypeError, "calibration must be an int, a slice"),
        ({"calibration": CAL, "evaluation": [3]}, ValueError, "evaluation must select at least 2"),
    ],
)
def test_span_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        factor_r2(X, 2.0 * X, **kwargs)


def test_input_errors():
    with pytest.raises(ValueError, match=r"x_estimate must have shape \(40,\) like x_true"):
        factor_r2(X, X[:-1], calibration=CAL)
    with pytest.raises(ValueError, match="x_estimate is constant on the calibration span"):
        factor_r2(X, np.ones(40), calibration=CAL)
    with pytest.raises(ValueError, match="x_true is constant on the evaluation span"):
        factor_r2(np.r_[X[:CAL], np.zeros(20)], X, calibration=CAL)
    with pytest.raises(ValueError, match="x_true must have 1 dimension"):
        factor_scaling(np.zeros((4, 2)), np.zeros((4, 2)))


def test_scaling_result_is_a_named_tuple():
    scaling = FactorScaling(1.0, 2.0)
    intercept, slope = scaling
    np.testing.assert_allclose(scaling.transform([0.0, 1.0]), [1.0, 3.0])
    assert (intercept, slope) == (1.0, 2.0)


# ---------------------------------------------------------------- Fit max, discard rule
def test_best_factor_estimate_picks_the_most_accurate_candidate():
    from skyield.metrics import best_factor_estimate

    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=300)) * 0.1
    noise = rng.normal(size=(4, 300))
    # Raw candidates on other scales and signs, with decreasing then increasing noise.
    candidates = np.stack([3.0 + 2.0 * x + s * n for s, n in zip([1.0, 0.3, 0.1, 0.6],
                                                                   noise)])
    candidates[2] *= -5.0
    index, mse = best_factor_estimate(x, candidates, calibration=150)
    assert index == 2
    # The MSE is that of a least-squares scaling fitted on the calibration span.
    slope, intercept = np.polyfit(candidates[1, :150], x[:150], 1)
    expected = np.mean((intercept + slope * candidates[1, 150:] - x[150:]) ** 2)
    assert mse[1] == pytest.approx(expected)
    constant = np.vstack([np.ones(300), candidates[0]])
    index, mse = best_factor_estimate(x, constant, calibration=150)
    assert index == 1 and mse[0] == np.inf
    with pytest.raises(ValueError, match="shape"):
        best_factor_estimate(x, candidates[:, :-1], calibration=150)
    bad = candidates.copy()
    bad[3, 200] = np.nan
    with pytest.raises(ValueError, match="row 3 is not finite at index 200"):
        best_factor_estimate(x, bad, calibration=150)


def test_factor_is_flat_flags_estimates_the_scaling_shrinks_to_a_constant():
    from skyield.metrics import factor_is_flat

    rng = np.random.default_rng(1)
    x = np.cumsum(rng.normal(size=400)) * 0.1
    noise = rng.normal(size=400)
    assert not factor_is_flat(x, -4.0 * x + 0.5 * noise, calibration=200)
    # Unrelated to the factor: the LAD line is (nearly) flat.
    assert factor_is_flat(x, noise, calibration=200)
    # The rule: standard deviation of the LAD-scaled estimate on the evaluation span
    # against the true factor's.
    weak = x + 3.0 * noise
    scaling = factor_scaling(x[:200], weak[:200])
    ratio = np.std(scaling.transform(weak[200:])) / np.std(x[200:])
    assert 0.05 < ratio < 0.95
    assert factor_is_flat(x, weak, calibration=200, threshold=ratio + 0.01)
    assert not factor_is_flat(x, weak, calibration=200, threshold=ratio - 0.01)
