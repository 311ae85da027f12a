import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyield.curves import (
    convert_compounding,
    discount_to_zero,
    instantaneous_forward,
    interpolate_zero,
    zero_to_discount,
    zero_to_forward,
)

MATURITIES = np.array([0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 20.0, 30.0])
COMPOUNDINGS = ["continuous", "simple", "annual", "semiannual", "quarterly", "monthly", 3]


def _curves(n=4, seed=0):
    rng = np.random.default_rng(seed)
    # Nelson-Siegel shapes with levels from -1% to 6%, slopes and curvatures of either sign
    level = rng.uniform(-0.01, 0.06, (n, 1))
    slope = rng.uniform(-0.03, 0.03, (n, 1))
    curvature = rng.uniform(-0.03, 0.03, (n, 1))
    x = MATURITIES / 2.0
    loading = (1 - np.exp(-x)) / x
    return level + slope * loading + curvature * (loading - np.exp(-x))


def test_discount_factors_by_hand():
    # 5% for 2 years: continuous exp(-0.1); annual 1.05^-2; semi-annual 1.025^-4;
    # simple 1 / 1.1
    np.testing.assert_allclose(zero_to_discount([2.0], [0.05]), [np.exp(-0.1)], rtol=1e-15)
    np.testing.assert_allclose(zero_to_discount([2.0], [0.05], compounding="annual"),
                               [1 / 1.1025], rtol=1e-15)
    np.testing.assert_allclose(zero_to_discount([2.0], [5.0], compounding="semiannual",
                                                units="percent"), [1.025 ** -4], rtol=1e-15)
    np.testing.assert_allclose(zero_to_discount([2.0], [0.05], compounding="simple"),
                               [1 / 1.1], rtol=1e-15)


@pytest.mark.parametrize("compounding", COMPOUNDINGS)
def test_zero_discount_zero_round_trip(compounding):
    zero = _curves()
    discount = zero_to_discount(MATURITIES, zero, compounding=compounding)
    back = discount_to_zero(MATURITIES, discount, compounding=compounding)
    np.testing.assert_allclose(back, zero, rtol=0, atol=1e-13)
    again = zero_to_discount(MATURITIES, back, compounding=compounding)
    np.testing.assert_allclose(again, discount, rtol=1e-14)


@settings(max_examples=50, deadline=None)
@given(st.floats(-0.02, 0.2), st.floats(0.05, 50.0),
       st.sampled_from(COMPOUNDINGS), st.sampled_from(COMPOUNDINGS))
def test_convert_compounding_keeps_discount_factors(rate, maturity, source, target):
    converted = convert_compounding(rate, from_compounding=source, to_compounding=target,
                                    maturities=maturity)
    p_source = zero_to_discount([maturity], [rate], compounding=source)
    p_target = zero_to_discount([maturity], [converted], compounding=target)
    np.testing.assert_allclose(p_target, p_source, rtol=1e-12)


def test_convert_compounding_known_values():
    # 4% semi-annual = 1.02^2 - 1 = 4.04% annual; 3% annual = 100 log(1.03) continuous
    assert convert_compounding(0.04, from_compounding="semiannual",
                               to_compounding="annual") == pytest.approx(0.0404, abs=1e-15)
    assert convert_compounding(3.0, from_compounding="annual", to_compounding="continuous",
                               units="percent") == pytest.approx(100 * np.log(1.03), abs=1e-13)
    with pytest.raises(ValueError, match="pass maturities"):
        convert_compounding(0.04, from_compounding="simple", to_compounding="annual")


def test_forward_rates_by_hand():
    # annual zeros 2% (1y), 3% (2y), 3.5% (4y):
    # f(1,2) = 1.03^2 / 1.02 - 1; f(2,4) = (1.035^4 / 1.03^2)^(1/2) - 1
    forward = zero_to_forward([1.0, 2.0, 4.0], [0.02, 0.03, 0.035], compounding="annual")
    np.testing.assert_allclose(
        forward, [0.02, 1.03 ** 2 / 1.02 - 1, (1.035 ** 4 / 1.03 ** 2) ** 0.5 - 1], rtol=1e-14)


def test_forward_rates_chain_back_to_discount_factors():
    zero = _curves()
    forward = zero_to_forward(MATURITIES, zero, compounding="quarterly")
    lengths = np.diff(MATURITIES, prepend=0.0)
    chained = np.cumprod((1 + forward / 4) ** (-4 * lengths), axis=-1)
    np.testing.assert_allclose(chained, zero_to_discount(MATURITIES, zero,
                                                         compounding="quarterly"), rtol=1e-13)


@pytest.mark.parametrize("interpolation", ["linear_zero", "log_linear_discount"])
def test_flat_curve_has_equal_zero_and_forward_rates(interpolation):
    # flat continuous 3%: every forward is 3% continuous, e^0.03 - 1 annual
    zero = np.full(MATURITIES.size, 0.03)
    times = np.linspace(0.0, 30.0, 61)
    np.testing.assert_allclose(
        instantaneous_forward(MATURITIES, zero, times, interpolation=interpolation), 0.03,
        rtol=1e-13)
    np.testing.assert_allclose(zero_to_forward(MATURITIES, zero), 0.03, rtol=1e-13)
    annual = convert_compounding(zero, from_compounding="continuous", to_compounding="annual")
    np.testing.assert_allclose(zero_to_forward(MATURITIES, annual, compounding="annual"),
                               np.expm1(0.03), rtol=1e-13)
    np.testing.assert_allclose(interpolate_zero(MATURITIES, zero, times[1:],
                                                interpolation=interpolation), 0.03, rtol=1e-13)


@pytest.mark.parametrize("interpolation", ["linear_zero", "log_linear_discount"])
def test_instantaneous_forward_integrates_to_the_discount_factor(interpolation):
    # Between maturities the forward is linear (linear zero) or constant (log-linear
    # discount), so the midpoint rule on each segment integrates it exactly:
    # int_0^10 f = -log P(10) = 10 z(10).
    zero = _curves(n=1)[0]
    knots = np.concatenate([[0.0], MATURITIES[MATURITIES <= 10.0]])
    middles = (knots[1:] + knots[:-1]) / 2
    forward = instantaneous_forward(MATURITIES, zero, middles, interpolation=interpolation)
    integral = np.sum(forward * np.diff(knots))
    assert integral == pytest.approx(10.0 * zero[MATURITIES == 10.0][0], abs=1e-14)


def test_interpolation_rules_by_hand():
    # linear zero: halfway between 2% at 1y and 4% at 3y is 3%;
    # log-linear discount: -log P(2) = (1 * 0.02 + 3 * 0.04) / 2 = 0.07, zero 3.5%
    np.testing.assert_allclose(interpolate_zero([1.0, 3.0], [0.02, 0.04], [2.0]), [0.03])
    np.testing.assert_allclose(
        interpolate_zero([1.0, 3.0], [0.02, 0.04], [2.0], interpolation="log_linear_discount"),
        [0.035])
    # flat before the first maturity, exact at the maturities
    np.testing.assert_allclose(interpolate_zero([1.0, 3.0], [0.02, 0.04], [0.1, 1.0, 3.0]),
                               [0.02, 0.02, 0.04], rtol=1e-15)


def test_pandas_in_and_out():
    dates = pd.date_range("2020-01-31", periods=4, freq="ME")
    frame = pd.DataFrame(_curves(), index=dates,
                         columns=["3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y", "20Y", "30Y"])
    discount = zero_to_discount(None, frame)
    assert isinstance(discount, pd.DataFrame)
    assert discount.index.equals(dates) and discount.columns.equals(frame.columns)
    np.testing.assert_allclose(discount.to_numpy(), zero_to_discount(MATURITIES, frame.to_numpy()))
    series = pd.Series([0.02, 0.03], index=[1.0, 2.0], name="curve")
    assert isinstance(discount_to_zero(None, zero_to_discount(None, series)), pd.Series)
    at = interpolate_zero(None, frame, [1.5, 4.0])
    assert list(at.columns) == [1.5, 4.0]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="pass maturities"):
        zero_to_discount(None, [0.01, 0.02])
    with pytest.raises(ValueError, match="strictly increasing: 1 years follows 2 years"):
        zero_to_discount([2.0, 1.0], [0.01, 0.02])
    frame = pd.DataFrame([[0.01, np.nan]], index=["2020-01-31"], columns=["1Y", "2Y"])
    with pytest.raises(ValueError, match="row '2020-01-31', column '2Y'"):
        zero_to_discount(None, frame)
    with pytest.raises(ValueError, match="past the curve's last maturity of 2 years"):
        interpolate_zero([1.0, 2.0], [0.01, 0.02], [2.5])
    with pytest.raises(ValueError, match="units='percent'"):
        zero_to_discount([1.0], [-250.0], compounding="annual")
    with pytest.raises(ValueError, match="compounding must be one of"):
        zero_to_discount([1.0], [0.02], compounding="weekly")
    with pytest.raises(ValueError, match="discount_factors must be positive"):
        discount_to_zero([1.0, 2.0], [0.99, 0.0])
    with pytest.raises(ValueError, match="units must be one of"):
        zero_to_discount([1.0], [0.02], units="bp")
