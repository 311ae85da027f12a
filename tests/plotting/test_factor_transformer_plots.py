import subprocess
import sys

import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from skyield.datasets import make_dfm_process  # noqa: E402
from skyield.models._factor_transformer import FactorTransformer  # noqa: E402
from skyield.plotting._factor_transformer import (  # noqa: E402
    plot_attention_contributions,
    plot_attention_matrix,
    plot_factor_runs,
    plot_residual_stream,
    plot_tentacles,
    shade_periods,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fitted():
    torch.set_num_threads(1)
    data = make_dfm_process(4, 90, random_state=0)
    panel = pd.DataFrame(data.observables,
                         index=pd.date_range("2001-01-01", periods=90, freq="MS"),
                         columns=list("abcde"))
    model = FactorTransformer(window=3, d_model=8, n_heads=2, d_k=4, d_ff=16, epochs=2,
                              cycle_epochs=2, warmup_epochs=1, prior="mean", n_runs=2,
                              random_state=0).fit(panel)
    return model, panel, data.factor


def labels(ticks):
    return [tick.get_text() for tick in ticks]


def test_attention_matrices(fitted):
    model, panel, _ = fitted
    attention = model.get_attention(panel)
    ax = plot_attention_matrix(attention["state"][40], variable_names=panel.columns)
    assert labels(ax.get_yticklabels()) == ["t-2", "t-1", "t"]
    assert labels(ax.get_xticklabels()) == list("abcde")
    assert len(ax.texts) == 15
    ax = plot_attention_matrix(attention["measurement"][40], kind="measurement",
                               annotate=False)
    assert labels(ax.get_xticklabels())[0] == "y1(t+1)" and ax.get_ylabel() == "factor lag"
    with pytest.raises(ValueError, match="full window"):
        plot_attention_matrix(attention["state"][0])
    with pytest.raises(ValueError, match="kind"):
        plot_attention_matrix(attention["state"][40], kind="other")


def test_contributions_over_time(fitted):
    model, panel, _ = fitted
    contributions = model.attention_contributions(panel, by="lag", smoothing=0.2)
    _, ax = plt.subplots()
    assert plot_attention_contributions(contributions, ax=ax, title="lags") is ax
    assert len(ax.lines) == 3 and ax.get_title() == "lags"
    ax = plot_attention_contributions(model.attention_contributions(panel), stacked=True)
    assert len(ax.collections) == 5
    with pytest.raises(ValueError, match="DataFrame"):
        plot_attention_contributions(contributions.to_numpy())


def test_residual_stream_plot(fitted):
    model, panel, truth = fitted
    stream = model.residual_stream(panel, panel.index[30])
    ax = plot_residual_stream(stream, true_factor=truth[28:31])
    assert [line.get_label() for line in ax.lines] == list(stream.columns) + ["x"]
    with pytest.raises(ValueError, match="true_factor"):
        plot_residual_stream(stream, true_factor=truth[:5])


def test_tentacles_extend_past_the_last_date(fitted):
    model, panel, _ = fitted
    projection = model.project(panel, steps=4, origins=panel.index[-3:])
    ax = plot_tentacles(projection, factor=model.transform(panel), index=panel.index)
    last = ax.lines[-3]  # the tentacle from the last origin (before its marker and factor)
    assert pd.Timestamp(last.get_xdata()[-1]) == panel.index[-1] + pd.DateOffset(months=4)
    ax = plot_tentacles(model.project(panel, steps=2), every=10)
    assert len(ax.lines) == 2 * len(range(0, 88, 10))
    with pytest.raises(ValueError, match="every"):
        plot_tentacles(projection, every=0)


def test_factor_runs_and_shading(fitted):
    model, panel, truth = fitted
    factor, runs = model.transform(panel, return_runs=True)
    ax = plot_factor_runs(factor, runs, truth=truth, title="runs")
    assert len(ax.lines) == 2 + 2
    shade_periods(ax, [panel.index[10]], [panel.index[20]])
    assert len(ax.patches) == 1
    with pytest.raises(ValueError, match="runs must have shape"):
        plot_factor_runs(factor, runs.iloc[:5])
    with pytest.raises(ValueError, match="starts has"):
        shade_periods(ax, [1, 2], [3])


def test_module_does_not_import_matplotlib():
    code = ("import sys, skyield.plotting._factor_transformer; "
            "print('matplotlib' in sys.modules)")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert output == "False"
