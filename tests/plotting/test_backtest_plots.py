import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from skyield.plotting import (  # noqa: E402
    plot_fan_chart,
    plot_rmse_by_maturity,
    plot_rmse_over_time,
)


def teardown_function():
    plt.close("all")


def _results(with_intervals=True):
    rng = np.random.default_rng(0)
    origins = pd.date_range("2010-01-31", periods=30, freq="ME")
    rows = []
    for model, scale in (("a", 0.1), ("b", 0.3)):
        for origin in origins:
            for series in (2.0, 10.0):
                actual = 3.0 + rng.normal()
                error = rng.normal(scale=scale)
                rows.append(dict(model=model, origin=origin, horizon=1, series=series,
                                 target_date=origin + pd.offsets.MonthEnd(1),
                                 actual=actual, forecast=actual + error, error=error,
                                 lower=actual - 1 if with_intervals and model == "a" else np.nan,
                                 upper=actual + 1 if with_intervals and model == "a" else np.nan))
    return pd.DataFrame(rows)


def test_fan_chart_draws_a_band_only_for_a_model_with_intervals():
    results = _results()
    with_band = plot_fan_chart(results[results["model"] == "a"], 10.0, 1)
    without = plot_fan_chart(results[results["model"] == "b"], 10.0, 1)
    assert len(with_band.collections) == 1
    assert len(without.collections) == 0
    assert [line.get_label() for line in without.get_lines()] == ["forecast", "actual"]
    with pytest.raises(ValueError, match="no rows for series 5.0 at horizon 1"):
        plot_fan_chart(results, 5.0, 1)


def test_rmse_by_maturity_matches_the_errors():
    results = _results()
    ax = plot_rmse_by_maturity(results, 1)
    line = next(line for line in ax.get_lines() if line.get_label() == "b")
    expected = (results[results["model"] == "b"].groupby("series")["error"]
                .apply(lambda e: np.sqrt(np.mean(e ** 2))))
    np.testing.assert_allclose(line.get_ydata(), expected.to_numpy())


def test_rolling_rmse_has_one_line_per_model():
    ax = plot_rmse_over_time(_results(), 1, window=6)
    assert sorted(line.get_label() for line in ax.get_lines()) == ["a", "b"]
