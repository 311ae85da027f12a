"""Plots of fitted models and backtests.

Attention of :class:`skyield.models.LSTMAttentionRegressor`:
:func:`plot_attention_heatmap`, :func:`plot_max_attention`, :func:`plot_attention_over_time`.
Factor transformer: :func:`plot_attention_matrix`, :func:`plot_attention_contributions`,
:func:`plot_factor_runs`, :func:`plot_residual_stream`, :func:`plot_tentacles`,
:func:`shade_periods`. Factor models (NNSS, GLSS, dynamic Nelson-Siegel):
:func:`plot_loadings`, :func:`plot_factors`. Backtests: :func:`plot_rmse_by_maturity`,
:func:`plot_fan_chart`, :func:`plot_rmse_over_time`.

Every function takes ``ax=None`` (a new figure when None) and returns the Axes;
matplotlib is imported only when a function is called.
"""

from skyield.plotting._attention import (
    plot_attention_heatmap,
    plot_attention_over_time,
    plot_max_attention,
)
from skyield.plotting._backtest import plot_fan_chart, plot_rmse_by_maturity, plot_rmse_over_time
from skyield.plotting._factor_transformer import (
    plot_attention_contributions,
    plot_attention_matrix,
    plot_factor_runs,
    plot_residual_stream,
    plot_tentacles,
    shade_periods,
)
from skyield.plotting._factors import plot_factors, plot_loadings

__all__ = [
    "plot_attention_contributions",
    "plot_attention_heatmap",
    "plot_attention_matrix",
    "plot_attention_over_time",
    "plot_factor_runs",
    "plot_factors",
    "plot_fan_chart",
    "plot_loadings",
    "plot_max_attention",
    "plot_residual_stream",
    "plot_rmse_by_maturity",
    "plot_rmse_over_time",
    "plot_tentacles",
    "shade_periods",
]
