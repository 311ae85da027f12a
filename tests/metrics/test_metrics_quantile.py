import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from skyield.metrics import crps_from_quantiles, mean_absolute_error, pinball_loss


@settings(max_examples=50, deadline=None)
@given(
    arrays(float, (5, 3), elements=st.floats(-10, 10)),
    arrays(float, (5, 3), elements=st.floats(-10, 10)),
)
def test_pinball_at_median_is_half_mae(y_true, y_pred):
    got = pinball_loss(y_true, y_pred[..., None], [0.5], multioutput="raw_values")
    half_mae = mean_absolute_error(y_true, y_pred, multioutput="raw_values") / 2
    np.testing.assert_allclose(got, half_mae, atol=1e-12)


def test_pinball_hand_values_per_level():
    y_true = np.array([1.0, 3.0])
    y_quantiles = np.array([[0.0, 2.0], [0.0, 2.0]])  # levels 0.1 and 0.9
    # level 0.1: under-predictions cost 0.1 * (1, 3) -> mean 0.2
    # level 0.9: y - q = (-1, 1) -> (0.1 * 1, 0.9 * 1) -> mean 0.5
    per_level = pinball_loss(y_true, y_quantiles, [0.1, 0.9], average_quantiles=False)
    np.testing.assert_allclose(per_level, [0.2, 0.5])
    assert pinball_loss(y_true, y_quantiles, [0.1, 0.9]) == pytest.approx(0.35)


def test_pinball_breakdown_keeps_quantile_axis():
    rng = np.random.default_rng(0)
    y_true = rng.normal(size=(4, 3, 2))
    y_quantiles = np.sort(rng.normal(size=(4, 3, 2, 5)), axis=-1)
    levels = [0.1, 0.3, 0.5, 0.7, 0.9]
    raw = pinball_loss(
        y_true, y_quantiles, levels, multioutput="raw_values", average_quantiles=False
    )
    assert raw.shape == (3, 2, 5)
    by_horizon = pinball_loss(
        y_true, y_quantiles, levels, multioutput="by_horizon", average_quantiles=False
    )
    np.testing.assert_allclose(by_horizon, raw.mean(axis=1))
    np.testing.assert_allclose(
        pinball_loss(y_true, y_quantiles, levels, multioutput="raw_values"), raw.mean(axis=-1)
    )


def test_crps_small_hand_value():
    # levels 0.25, 0.75 with quantiles 0, 2 and y = 1: each pinball is 0.25
    assert crps_from_quantiles([1.0], [[0.0, 2.0]], [0.25, 0.75]) == pytest.approx(0.5)


def test_crps_of_point_forecast_is_absolute_error():
    # every quantile at the same value q and levels symmetric about 0.5:
    # (2 / K) * sum_k rho_k(y - q) = |y - q|, the CRPS of a point mass
    levels = np.arange(1, 10) / 10
    y_true = np.array([0.3, -2.0, 5.0])
    point = np.array([1.0, 1.0, 1.0])
    y_quantiles = np.repeat(point[:, None], levels.size, axis=1)
    assert crps_from_quantiles(y_true, y_quantiles, levels) == pytest.approx(
        np.mean(np.abs(y_true - point))
    )


def test_crps_approaches_gaussian_closed_form():
    # CRPS(N(mu, s^2), y) = s * (z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi))
    mu, s, y = 0.2, 1.5, 1.0
    z = (y - mu) / s
    exact = s * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))
    levels = np.arange(1, 1000) / 1000
    quantiles = stats.norm.ppf(levels, loc=mu, scale=s)
    approx = crps_from_quantiles([y], quantiles[None, :], levels)
    assert approx == pytest.approx(exact, rel=5e-3)


@pytest.mark.parametrize("func", [pinball_loss, crps_from_quantiles])
def test_quantile_input_errors(func):
    y_true = np.zeros(3)
    with pytest.raises(ValueError, match="quantiles must lie strictly between 0 and 1"):
        func(y_true, np.zeros((3, 2)), [0.0, 0.5])
    with pytest.raises(ValueError, match="quantiles must lie strictly between 0 and 1"):
        func(y_true, np.zeros((3, 1)), [1.2])
    with pytest.raises(ValueError, match=r"quantiles must be strictly increasing, got \[0.5, 0.5"):
        func(y_true, np.zeros((3, 2)), [0.5, 0.5])
    # One rule for levels across the package: unsorted levels are an error too.
    with pytest.raises(ValueError, match=r"must be strictly increasing, got \[0.9, 0.1\]"):
        func(y_true, np.zeros((3, 2)), [0.9, 0.1])
    with pytest.raises(ValueError, match=r"y_quantiles must have shape .*\(3, 2\).*got \(3, 3\)"):
        func(y_true, np.zeros((3, 3)), [0.1, 0.9])
    with pytest.raises(ValueError, match="y_quantiles contains NaN"):
        func(y_true, np.array([[0.0, 1.0], [np.nan, 1.0], [0.0, 1.0]]), [0.1, 0.9])
    with pytest.raises(ValueError, match="quantiles contains NaN"):
        func(y_true, np.zeros((3, 2)), [0.1, np.nan])
