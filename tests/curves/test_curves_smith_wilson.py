import numpy as np
import pandas as pd
import pytest

from skyield.curves import smith_wilson, zero_to_par

# EIOPA's "Smith-Wilson risk-free interest rate extrapolation tool" (2015 workbook),
# example sheet: annually compounded zero-coupon rates at 1..20 years, UFR 4.2%,
# convergence at 60 years; the tool reports alpha = 0.142068 and the spot rates below at
# 1..65 years (values as reproduced in the lifelib project,
# libraries/economic_curves/smith&wilson/main.py).
EIOPA_TOOL_RATES = np.array([
    0.0131074591432979, 0.0222629098372424, 0.0273403667327403, 0.0317884414257146,
    0.0327205345299401, 0.0332867589595655, 0.0336112121443886, 0.0341947663149128,
    0.0345165922380981, 0.0346854377006694, 0.0357173340791270, 0.0368501673784445,
    0.0376263620230677, 0.0385237084707761, 0.0395043823351044, 0.0401574909803133,
    0.0405715278625131, 0.0415574765441695, 0.0415582458410996, 0.0425511326946310,
])
EIOPA_TOOL_EXTRAPOLATED = np.array([  # years 21..65
    0.0436656239235407, 0.0445561338093701, 0.0452628707713729, 0.0458188495571263,
    0.0462512293260686, 0.0465823804152550, 0.0468307431055235, 0.0470115242330582,
    0.0471372655651476, 0.0472183095640757, 0.0472631822720417, 0.0472789087725782,
    0.0472712735066854, 0.0472450353102873, 0.0472041051721557, 0.0471516932406448,
    0.0470904304327322, 0.0470224690500156, 0.0469495660338741, 0.0468731518591676,
    0.0467943875455887, 0.0467142118366739, 0.0466333802421182, 0.0465524973460913,
    0.0464720435419177, 0.0463923971530968, 0.0463138527348181, 0.0462366362129754,
    0.0461609174043216, 0.0460868203676226, 0.0460144319580649, 0.0459438088931750,
    0.0458749835854031, 0.0458079689527213, 0.0457427623823397, 0.0456793489926264,
    0.0456177043135153, 0.0455577964851157, 0.0454995880572642, 0.0454430374586101,
    0.0453881001922050, 0.0453347298048383, 0.0452828786693675, 0.0452324986125916,
    0.0451835414157220,
])

# An illustrative EUR-like curve (annually compounded, percent), not published data.
EUR_MATURITIES = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20])
EUR_RATES = np.array([3.35, 3.05, 2.85, 2.75, 2.70, 2.68, 2.68, 2.70, 2.72, 2.75, 2.80,
                      2.85, 2.80])


def test_reproduces_eiopa_tool_example():
    curve = smith_wilson(np.arange(1, 21), EIOPA_TOOL_RATES, ufr=0.042, compounding="annual")
    assert curve.convergence_point == 60.0
    assert curve.alpha == pytest.approx(0.142068, abs=1e-12)
    rates = curve.zero_rates(np.arange(1, 66))
    np.testing.assert_allclose(rates[:20], EIOPA_TOOL_RATES, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rates[20:], EIOPA_TOOL_EXTRAPOLATED, rtol=0, atol=1e-12)


def test_kernel_matches_the_textbook_wilson_function():
    # P(t) = exp(-omega t) + sum_i zeta_i sum_k C[i, k] W(t, v_k) with
    # W(t, v) = exp(-omega (t + v)) (alpha min - 0.5 exp(-alpha max)
    #           (exp(alpha min) - exp(-alpha min)))
    curve = smith_wilson(EUR_MATURITIES, EUR_RATES, ufr=3.3, compounding="annual",
                         units="percent")
    t = np.array([0.5, 3.0, 11.0, 25.0, 60.0, 100.0])
    omega, alpha = curve.omega, curve.alpha
    low = np.minimum(t[:, None], curve.dates[None, :])
    high = np.maximum(t[:, None], curve.dates[None, :])
    wilson = np.exp(-omega * (t[:, None] + curve.dates[None, :])) * (
        alpha * low - 0.5 * np.exp(-alpha * high) * (np.exp(alpha * low) - np.exp(-alpha * low)))
    expected = np.exp(-omega * t) + wilson @ (curve.cash_flows.T @ curve.zeta)
    np.testing.assert_allclose(curve.discount_factors(t), expected, rtol=1e-13)
    assert omega == pytest.approx(np.log(1.033), abs=1e-16)


def test_reproduces_liquid_rates_and_converges_to_the_ufr():
    curve = smith_wilson(EUR_MATURITIES, EUR_RATES, ufr=3.3, compounding="annual",
                         units="percent")
    np.testing.assert_allclose(curve.zero_rates(EUR_MATURITIES), EUR_RATES, rtol=0, atol=1e-10)
    assert curve.convergence_point == 60.0  # max(LLP + 40, 60) with LLP = 20
    forward = curve.forward_intensities([60.0], units="decimal")[0]
    assert abs(forward - np.log(1.033)) <= 1e-4
    assert curve.convergence_gap == pytest.approx(abs(forward - np.log(1.033)), abs=1e-15)
    # far out the forward intensity is omega = log(1.033), i.e. 3.3% annually compounded
    assert curve.forward_intensities([300.0], units="decimal")[0] == pytest.approx(
        np.log(1.033), abs=1e-9)


def test_alpha_is_the_smallest_grid_value_meeting_the_criterion():
    step = 1e-4
    curve = smith_wilson(EUR_MATURITIES, EUR_RATES, ufr=3.3, compounding="annual",
                         units="percent", alpha_step=step)
    assert curve.alpha > 0.05
    n = round((curve.alpha - 0.05) / step)
    assert curve.alpha == pytest.approx(0.05 + n * step, abs=1e-12)  # on the grid
    assert curve.convergence_gap <= 1e-4
    # brute force over every grid value below it: all miss the 1 bp criterion
    for k in range(n):
        below = smith_wilson(EUR_MATURITIES, EUR_RATES, ufr=3.3, compounding="annual",
                             units="percent", alpha=0.05 + k * step)
        assert below.convergence_gap > 1e-4, k


def test_alpha_min_when_the_criterion_holds_at_once():
    # a curve already flat at the UFR has zeta = 0 and forwards equal to omega everywhere
    curve = smith_wilson([1, 5, 10], [0.033, 0.033, 0.033], ufr=0.033, compounding="annual")
    assert curve.alpha == 0.05
    np.testing.assert_allclose(curve.zeta, 0.0, atol=1e-12)
    np.testing.assert_allclose(curve.zero_rates([0.5, 30, 90]), 0.033, rtol=1e-12)


def test_tighter_tolerance_and_later_convergence_point():
    base = smith_wilson(EUR_MATURITIES, EUR_RATES, ufr=3.3, compounding="annual",
                        units="percent")
    tight = smith_wilson(EUR_MATURITIES, EUR_RATES, ufr=3.3, compounding="annual",
                         units="percent", tolerance_bp=0.1)
    assert tight.alpha > base.alpha and tight.convergence_gap <= 1e-5
    assert smith_wilson([1, 10, 30], [0.02, 0.025, 0.03], ufr=0.035).convergence_point == 70.0
    later = smith_wilson(EUR_MATURITIES, EUR_RATES, ufr=3.3, compounding="annual",
                         units="percent", convergence_point=100)
    assert later.alpha < base.alpha and later.convergence_gap <= 1e-4


def test_par_instruments_are_repriced():
    maturities = np.array([1, 2, 3, 5, 7, 10, 15, 20])
    swaps = np.array([0.030, 0.029, 0.028, 0.0275, 0.0277, 0.028, 0.0285, 0.028])
    curve = smith_wilson(maturities, swaps, ufr=0.033, instrument="par", frequency=2)
    grid = np.arange(1, 41) / 2  # every coupon date
    zero = curve.zero_rates(grid)
    par = zero_to_par(grid, zero, frequency=2)
    np.testing.assert_allclose(par[np.isin(grid, maturities)], swaps, rtol=0, atol=1e-12)
    assert curve.convergence_gap <= 1e-4


def test_pandas_series_and_errors():
    series = pd.Series(EUR_RATES, index=[f"{m}Y" for m in EUR_MATURITIES])
    curve = smith_wilson(None, series, ufr=3.3, compounding="annual", units="percent")
    np.testing.assert_array_equal(curve.maturities, EUR_MATURITIES)
    with pytest.raises(ValueError, match="one-dimensional"):
        smith_wilson([1, 2], [[0.01, 0.02]], ufr=0.03)
    with pytest.raises(ValueError, match="whole numbers of coupon periods"):
        smith_wilson([1, 2.25], [0.01, 0.02], ufr=0.03, instrument="par")
    with pytest.raises(ValueError, match="ufr must be a finite number"):
        smith_wilson([1, 2], [0.01, 0.02], ufr=None)
    with pytest.raises(ValueError, match="instrument must be"):
        smith_wilson([1, 2], [0.01, 0.02], ufr=0.03, instrument="swap")
