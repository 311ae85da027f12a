"""Figures that look inside the benchmark's models, for the report.

Each diagnostic takes the model of the backtest's first fit (trained on the dates before
the test start: no model is fitted again for the report) and draws what it estimated:
attention weights, neural loadings, filtered dynamic factors. A diagnostic returns a list
of ``(caption, figure)`` pairs.
"""

import numpy as np
import pandas as pd

from skyield.base import accepts_families
from skyield.plotting import plot_attention_heatmap, plot_factors, plot_loadings
from skyield.preprocessing import make_windows

# Fine maturity grid of the loading plots: from 0 to this multiple of the longest maturity.
_LOADING_SPAN = 1.2
_DNS_FACTOR_NAMES = {3: ["level", "slope", "curvature"],
                     4: ["level", "slope", "curvature", "second curvature"]}


def _subplots(*args, **kwargs):
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def attention_figures(model, context):
    """Mean attention over the test origins and the attention at the last origin."""
    every = make_windows(context.panel, context.window, horizons=None)
    test = np.asarray(every.origins >= context.test_start)
    kwargs = {}
    if context.family is not None and accepts_families(model.get_attention):
        kwargs["families"] = np.full(int(test.sum()), context.family, dtype=object)
    attention = model.get_attention(every.X[test], **kwargs)
    figure, axes = _subplots(1, 2, figsize=(10, 3.2))
    plot_attention_heatmap(attention.mean(axis=0), ax=axes[0], every=2,
                           title=f"mean over the {int(test.sum())} test dates")
    plot_attention_heatmap(attention[-1], ax=axes[1], every=2,
                           title=f"origin {every.origins[test][-1]:%Y-%m-%d}")
    for ax in axes:
        _label_horizons(ax, attention.shape[1], context.horizons)
    figure.tight_layout()
    curve = "" if context.family is None else f", on the {context.family} curve"
    return [("Attention of each output over the window's lags (last column: the origin), "
             f"from the model fitted on the training span{curve}", figure)]


def _label_horizons(ax, n_outputs, horizons):
    """Name the rows of an attention heatmap by horizon when there is one row each."""
    if n_outputs == len(horizons):
        ax.set_yticks(np.arange(n_outputs) + 0.5, [f"h={h}" for h in horizons])
        ax.set_ylabel("forecast horizon")
    else:
        ax.set_ylabel("output")


def nnss_figures(model, context):
    """Neural loadings over a fine maturity grid and the filtered factors."""
    train = context.train
    observed = np.asarray(context.panel.columns, dtype=float)
    fine = np.linspace(0.0, _LOADING_SPAN * observed.max(), 241)
    figure, axes = _subplots(1, 2, figsize=(11, 3.4), gridspec_kw={"width_ratios": [1, 2]})
    plot_loadings(fine, model.loadings(fine), observed=observed, ax=axes[0],
                  title="loadings g(m) (grey: observed maturities)")
    axes[0].legend(fontsize=7)
    plot_factors(_as_frame(model.transform(context.panel), context.panel.index),
                 split=train.index[-1], ax=axes[1],
                 title="filtered factors (parameters from the training span)")
    figure.tight_layout()
    return [("Neural state space model: loadings and filtered factors", figure)]


def dns_factor_figures(model, context):
    """Filtered (or OLS) dynamic Nelson-Siegel factors over the whole panel."""
    train = context.train
    factors = _as_frame(model.transform(context.panel), context.panel.index)
    names = _DNS_FACTOR_NAMES.get(factors.shape[1])
    figure, ax = _subplots(figsize=(9, 3.2))
    plot_factors(factors, split=train.index[-1], labels=names, ax=ax,
                 title="dynamic Nelson-Siegel factors (parameters from the training span)")
    ax.legend(fontsize=7)
    figure.tight_layout()
    return [("Dynamic Nelson-Siegel factors estimated by the Kalman filter", figure)]


def transformer_factor_figures(model, context):
    """The factor the factor Transformer estimates from each window."""
    train = context.train
    factors = _as_frame(model.transform(context.panel), context.panel.index).dropna()
    figure, ax = _subplots(figsize=(9, 3.2))
    plot_factors(factors, split=train.index[-1], labels=["factor"], ax=ax,
                 ylabel="factor (standardised)",
                 title="transformer factor of each window (trained on the training span)")
    figure.tight_layout()
    return [("Nonlinear dynamic factor estimated by the Encoder-Encoder Transformer", figure)]


def _as_frame(factors, index):
    if isinstance(factors, pd.DataFrame):
        return factors
    return pd.DataFrame(np.asarray(factors), index=index,
                        columns=[f"factor {j}" for j in range(np.shape(factors)[1])])


DIAGNOSTICS = {
    "attention": attention_figures,
    "nnss": nnss_figures,
    "dns-factors": dns_factor_figures,
    "transformer-factor": transformer_factor_figures,
}
