import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skyield.plotting import (  # noqa: E402
    plot_attention_heatmap,
    plot_attention_over_time,
    plot_max_attention,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def softmax_rows(shape, seed=0):
    scores = np.random.RandomState(seed).normal(size=shape)
    weights = np.exp(scores)
    return weights / weights.sum(axis=-1, keepdims=True)


def labels(ticks):
    return [tick.get_text() for tick in ticks]


def test_heatmap_is_labelled_as_in_the_seed():
    ax = plot_attention_heatmap(softmax_rows((4, 52)), title="first week of 2014")
    assert labels(ax.get_yticklabels()) == ["t+1", "t+2", "t+3", "t+4"]
    assert labels(ax.get_xticklabels()) == ["t-50", "t-40", "t-30", "t-20", "t-10", "t"]
    np.testing.assert_allclose(ax.get_xticks(), [1.5, 11.5, 21.5, 31.5, 41.5, 51.5])
    assert ax.get_xlabel() == "x: t-51 to t" and ax.get_ylabel() == "y: t+1 to t+4"
    assert ax.get_title() == "first week of 2014"
    one = plot_attention_heatmap(softmax_rows((1, 52)))
    assert labels(one.get_yticklabels()) == ["t+1"] and one.get_ylabel() == "y: t+1"


def test_heatmap_draws_on_the_given_axes_and_values():
    _, ax = plt.subplots()
    weights = softmax_rows((2, 12))
    assert plot_attention_heatmap(weights, ax=ax) is ax
    np.testing.assert_allclose(ax.collections[0].get_array().reshape(2, 12), weights)


def test_max_attention_bars():
    attention = softmax_rows((30, 2, 52))
    ax = plot_max_attention(attention)
    heights = [patch.get_height() for patch in ax.patches]
    np.testing.assert_allclose(heights, attention.max(axis=(0, 1)))
    ax = plot_max_attention(attention, step=1)
    np.testing.assert_allclose([p.get_height() for p in ax.patches],
                               attention[:, 1].max(axis=0))
    assert labels(ax.get_xticklabels())[-1] == "t"


def test_attention_over_time_with_dates():
    dates = pd.date_range("2013-01-04", periods=20, freq="W-FRI")
    attention = softmax_rows((20, 4, 52))
    ax = plot_attention_over_time(attention, dates, step=3)
    np.testing.assert_allclose(ax.collections[0].get_array().reshape(52, 20),
                               attention[:, 3].T)
    assert ax.get_xlabel() == "forecast origin"
    assert plot_attention_over_time(attention).get_ylabel() == "lag"
    assert plot_attention_over_time(attention[:1], dates[:1]) is not None


@pytest.mark.parametrize("call, message", [
    (lambda: plot_attention_heatmap(np.ones((2, 3, 4))), r"\(n_outputs, n_lags\)"),
    (lambda: plot_max_attention(np.ones((2, 3))), r"\(n_samples, n_outputs, n_lags\)"),
    (lambda: plot_max_attention(np.ones((2, 1, 3)), step=1), "step=1 is out of range"),
    (lambda: plot_attention_over_time(np.ones((2, 1, 3)), dates=[1, 2, 3]), "dates must"),
    (lambda: plot_attention_heatmap(np.full((1, 3), np.nan)), "non-finite"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_matplotlib_is_imported_lazily():
    code = ("import sys, skyield.plotting, skyield.models; "
            "print('matplotlib' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
