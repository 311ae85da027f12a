import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from skyield.plotting import plot_factors, plot_loadings  # noqa: E402


def teardown_function():
    plt.close("all")


def test_plot_loadings_draws_one_line_per_factor_and_marks_observed_maturities():
    maturities = np.linspace(0.1, 10, 50)
    loadings = np.column_stack([np.ones(50), np.exp(-maturities), maturities / 10])
    ax = plot_loadings(maturities, loadings, observed=[1, 5], labels=["L", "S", "C"])
    solid = [line for line in ax.get_lines() if line.get_label() in {"L", "S", "C"}]
    assert len(solid) == 3
    np.testing.assert_allclose(solid[1].get_ydata(), np.exp(-maturities))
    assert len(ax.get_lines()) == 5  # three factors and two observed maturities


def test_plot_loadings_rejects_mismatched_shapes_and_labels():
    with pytest.raises(ValueError, match=r"shape \(n_maturities, n_factors\)"):
        plot_loadings([1, 2, 3], np.ones((4, 2)))
    with pytest.raises(ValueError, match="labels has 1 entries for 2 factors"):
        plot_loadings([1, 2], np.ones((2, 2)), labels=["a"])


def test_plot_factors_uses_columns_as_labels_and_draws_the_split():
    index = pd.date_range("2000-01-31", periods=24, freq="ME")
    factors = pd.DataFrame(np.arange(48.0).reshape(24, 2), index=index,
                           columns=["level", "slope"])
    ax = plot_factors(factors, split="2000-12-31")
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:2] == ["level", "slope"]
    assert len(ax.get_lines()) == 3
    with pytest.raises(TypeError, match="DataFrame indexed by date"):
        plot_factors(factors.to_numpy())
