import numpy as np
import pandas as pd
import pytest

from skyield.curves import interpolate_zero, present_value, smith_wilson, zero_to_discount

MATURITIES = np.array([0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 20.0, 30.0])


def _cube(n_paths=6, n_horizons=4, seed=3):
    rng = np.random.default_rng(seed)
    level = 0.025 + 0.01 * rng.standard_normal((n_paths, n_horizons, 1))
    slope = 0.01 * rng.standard_normal((n_paths, n_horizons, 1))
    return level - slope * np.exp(-MATURITIES / 3.0)


def test_single_cash_flow_is_amount_times_discount_factor():
    zero = _cube()[0, 0]
    for t in [2.0, 4.0]:  # at a maturity and between maturities
        expected = 250.0 * zero_to_discount([t], interpolate_zero(MATURITIES, zero, [t]))[0]
        assert present_value([t], [250.0], MATURITIES, zero) == pytest.approx(expected,
                                                                              rel=1e-15)
    # by hand: 100 in 2 years at 3% annual compounding is 100 / 1.03^2
    assert present_value([2.0], [100.0], [1, 2, 5], [3.0, 3.0, 3.0], compounding="annual",
                         units="percent") == pytest.approx(100 / 1.03 ** 2, rel=1e-15)
    # a flow due now is worth its amount
    assert present_value([0.0], [42.0], MATURITIES, zero) == 42.0


def test_scenario_cube_equals_a_loop_over_paths():
    cube = _cube()
    times = np.array([0.5, 1.0, 1.5, 2.0, 4.0, 8.0, 15.0, 25.0])
    flows = np.array([5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 105.0])
    pv = present_value(times, flows, MATURITIES, cube, interpolation="log_linear_discount")
    assert pv.shape == cube.shape[:2]
    for path in range(cube.shape[0]):
        for horizon in range(cube.shape[1]):
            assert pv[path, horizon] == pytest.approx(present_value(
                times, flows, MATURITIES, cube[path, horizon],
                interpolation="log_linear_discount"), rel=1e-15)


def test_horizons_value_the_remaining_flows():
    # flat 3% continuous curve at every horizon: at horizon h the flows with t >= h are
    # worth sum cf exp(-0.03 (t - h)); earlier ones are already paid
    cube = np.full((2, 3, MATURITIES.size), 0.03)
    times = np.array([0.0, 1.0, 2.0, 3.0])
    flows = np.array([10.0, 20.0, 30.0, 40.0])
    horizons = np.array([0.0, 1.0, 2.5])
    pv = present_value(times, flows, MATURITIES, cube, horizons=horizons)
    expected = [sum(cf * np.exp(-0.03 * (t - h)) for t, cf in zip(times, flows) if t >= h)
                for h in horizons]
    np.testing.assert_allclose(pv, np.broadcast_to(expected, (2, 3)), rtol=1e-14)
    # per-path profiles broadcast over horizons
    per_path = np.stack([flows, 2 * flows])[:, None, :]
    np.testing.assert_allclose(present_value(times, per_path, MATURITIES, cube,
                                             horizons=horizons)[1], 2 * np.array(expected),
                               rtol=1e-14)


def test_panel_dataframe_gives_a_series():
    dates = pd.date_range("2022-01-31", periods=3, freq="ME")
    frame = pd.DataFrame(_cube()[0, :3], index=dates, columns=MATURITIES)
    pv = present_value([1.0, 2.0], [1.0, 1.0], None, frame)
    assert isinstance(pv, pd.Series) and pv.index.equals(dates)


def test_smith_wilson_extends_a_curve_for_long_liabilities():
    curve = smith_wilson([1, 2, 5, 10, 20], [0.03, 0.028, 0.026, 0.027, 0.026], ufr=0.033,
                         compounding="annual")
    grid = np.arange(1, 101, dtype=float)
    times = np.arange(1, 81, dtype=float)
    pv = present_value(times, np.ones(80), grid, curve.zero_rates(grid), compounding="annual")
    assert pv == pytest.approx(curve.discount_factors(times).sum(), rel=1e-13)


def test_errors():
    zero = _cube()[0, 0]
    with pytest.raises(ValueError, match="past the curve's last maturity of 30 years"):
        present_value([31.0], [1.0], MATURITIES, zero)
    with pytest.raises(ValueError, match="cash_flows must have 2 entries"):
        present_value([1.0, 2.0], [1.0], MATURITIES, zero)
    with pytest.raises(ValueError, match="times must be finite and non-negative"):
        present_value([-1.0], [1.0], MATURITIES, zero)
    with pytest.raises(ValueError, match="horizons has 2 entries"):
        present_value([1.0], [1.0], MATURITIES, _cube(), horizons=[0.0, 1.0])
    # 30.5 years from today is 29.5 years after horizon 1 but 30.5 after horizon 0
    with pytest.raises(ValueError, match="after horizon 0 include 30.5 years"):
        present_value([1.0, 30.5], [1.0, 1.0], MATURITIES, _cube(n_horizons=2),
                      horizons=[1.0, 0.0])
