import numpy as np
import pandas as pd
import pytest

from skyield.curves import (
    convert_compounding,
    interpolate_zero,
    par_to_zero,
    zero_to_discount,
    zero_to_par,
)

MATURITIES = np.array([0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0])
INTERPOLATIONS = ["linear_zero", "log_linear_discount"]


def _curves(n=5, seed=1):
    rng = np.random.default_rng(seed)
    level = rng.uniform(-0.01, 0.07, (n, 1))
    slope = rng.uniform(-0.04, 0.04, (n, 1))
    curvature = rng.uniform(-0.04, 0.04, (n, 1))
    x = MATURITIES / 1.5
    loading = (1 - np.exp(-x)) / x
    return level + slope * loading + curvature * (loading - np.exp(-x))


def test_bootstrap_of_three_annual_par_yields_by_hand():
    # Par yields 2%, 3%, 4% at 1, 2, 3 years with annual coupons:
    #   1y: 1.02 P1 = 1              -> P1 = 1 / 1.02 = 0.98039215686274...
    #   2y: 0.03 P1 + 1.03 P2 = 1     -> P2 = (1 - 0.03 P1) / 1.03
    #                                       = 0.97058823529411 / 1.03 = 0.94231867504283...
    #   3y: 0.04 (P1 + P2) + 1.04 P3 = 1
    #                                 -> P3 = (1 - 0.04 * 1.92271083190557) / 1.04
    #                                       = 0.92309156672377 / 1.04 = 0.88758804492670...
    # annual zero rates z_k = P_k^(-1/k) - 1: 2%, 3.0151504009%, 4.0549756667%
    p1 = 1 / 1.02
    p2 = (1 - 0.03 * p1) / 1.03
    p3 = (1 - 0.04 * (p1 + p2)) / 1.04
    assert (p1, p2, p3) == pytest.approx((0.98039215686274, 0.94231867504283,
                                          0.88758804492670), abs=1e-13)
    expected = [0.02, p2 ** (-1 / 2) - 1, p3 ** (-1 / 3) - 1]
    assert expected[1:] == pytest.approx([0.030151504009, 0.040549756667], abs=1e-12)
    for interpolation in INTERPOLATIONS:  # no coupon date falls between the maturities
        zero = par_to_zero([1, 2, 3], [0.02, 0.03, 0.04], compounding="annual",
                           interpolation=interpolation)
        np.testing.assert_allclose(zero, expected, rtol=0, atol=1e-14)
    percent = par_to_zero([1, 2, 3], [2.0, 3.0, 4.0], compounding="annual", units="percent")
    np.testing.assert_allclose(percent, 100 * np.array(expected), rtol=0, atol=1e-12)


def test_par_yield_of_a_known_curve_by_hand():
    # continuous zeros 1% (1y) and 3% (2y), semi-annual coupons, linear zero interpolation:
    # z(0.5) = 1% (flat before 1y), z(1.5) = 2%;
    # c = 2 (1 - P(2)) / (P(0.5) + P(1) + P(1.5) + P(2))
    p = np.exp(-np.array([0.5 * 0.01, 1 * 0.01, 1.5 * 0.02, 2 * 0.03]))
    expected = 2 * (1 - p[-1]) / p.sum()
    par = zero_to_par([1.0, 2.0], [0.01, 0.03], frequency=2)
    assert par[1] == pytest.approx(expected, abs=1e-15)
    # with log-linear discount factors -log P(1.5) = (0.01 + 0.06) / 2
    p[2] = np.exp(-(0.01 + 0.06) / 2)
    par = zero_to_par([1.0, 2.0], [0.01, 0.03], frequency=2,
                      interpolation="log_linear_discount")
    assert par[1] == pytest.approx(2 * (1 - p[-1]) / p.sum(), abs=1e-15)


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("frequency", [1, 2, 4])
def test_zero_par_zero_round_trip(interpolation, frequency):
    zero = _curves()
    par = zero_to_par(MATURITIES, zero, frequency=frequency, interpolation=interpolation)
    back = par_to_zero(MATURITIES, par, frequency=frequency, interpolation=interpolation)
    np.testing.assert_allclose(back, zero, rtol=0, atol=1e-10)
    # and par -> zero -> par, in percent and annual compounding
    par_pct = 100 * par
    zero_annual = par_to_zero(MATURITIES, par_pct, frequency=frequency,
                              interpolation=interpolation, compounding="annual", units="percent")
    np.testing.assert_allclose(
        zero_to_par(MATURITIES, zero_annual, frequency=frequency, interpolation=interpolation,
                    compounding="annual", units="percent"), par_pct, rtol=0, atol=1e-8)


@pytest.mark.parametrize("frequency, compounding", [(1, "annual"), (2, "semiannual"),
                                                    (4, "quarterly"), (12, "monthly")])
def test_flat_curve_par_equals_zero(frequency, compounding):
    # On a flat curve compounded f times a year, the par yield with f coupons a year equals
    # the zero rate: c/f sum_{k<=n} v^k + v^n = 1 with v = 1 / (1 + r/f) gives c = r.
    maturities = np.array([1.0, 2.0, 3.0, 5.0, 10.0, 30.0])
    zero = np.full(maturities.size, 0.037)
    for interpolation in INTERPOLATIONS:
        par = zero_to_par(maturities, zero, frequency=frequency, compounding=compounding,
                          interpolation=interpolation)
        np.testing.assert_allclose(par, 0.037, rtol=1e-13)
        np.testing.assert_allclose(
            par_to_zero(maturities, par, frequency=frequency, compounding=compounding,
                        interpolation=interpolation), 0.037, rtol=1e-12)
    # the same curve quoted continuously: par = annual-equivalent when f = 1
    continuous = convert_compounding(zero, from_compounding=compounding,
                                     to_compounding="continuous")
    np.testing.assert_allclose(zero_to_par(maturities, continuous, frequency=frequency), 0.037,
                               rtol=1e-13)


def test_bootstrapped_curve_prices_every_par_bond_at_one():
    par = np.array([0.015, 0.02, 0.024, 0.03, 0.033, 0.035])
    maturities = np.array([1.0, 2.0, 3.0, 5.0, 7.0, 10.0])
    zero = par_to_zero(maturities, par, frequency=2)
    grid = np.arange(1, 21) / 2  # every semi-annual coupon date up to 10y
    discount = zero_to_discount(grid, interpolate_zero(maturities, zero, grid))
    for c, maturity in zip(par, maturities):
        dates = grid <= maturity
        price = c / 2 * discount[dates].sum() + discount[dates][-1]
        assert price == pytest.approx(1.0, abs=1e-13)


def test_stacks_and_pandas():
    zero = _curves(n=3)
    frame = pd.DataFrame(zero, index=pd.date_range("2021-01-31", periods=3, freq="ME"),
                         columns=MATURITIES)
    par = zero_to_par(None, frame, frequency=2)
    assert isinstance(par, pd.DataFrame) and par.index.equals(frame.index)
    np.testing.assert_allclose(par.to_numpy(), zero_to_par(MATURITIES, zero, frequency=2))
    for row in range(3):  # the stack equals curve-by-curve
        np.testing.assert_allclose(par_to_zero(MATURITIES, par.to_numpy()[row], frequency=2),
                                   zero[row], atol=1e-10)
    cube = np.stack([zero, zero[::-1]])
    np.testing.assert_allclose(par_to_zero(MATURITIES, zero_to_par(MATURITIES, cube)), cube,
                               atol=1e-10)


def test_errors():
    with pytest.raises(ValueError, match="frequency must be a positive integer"):
        zero_to_par([1.0], [0.02], frequency=0)
    with pytest.raises(ValueError, match="interpolation must be one of"):
        par_to_zero([1.0], [0.02], interpolation="cubic")
    with pytest.raises(ValueError, match="2-year par bond"):
        par_to_zero([1.0, 2.0], [0.02, -3.0])
