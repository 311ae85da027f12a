"""Plots of fitted models and backtests.

Attention of :class:`skyield.models.LSTMAttentionRegressor`:
:func:`plot_attention_heatmap`, :func:`plot_max_attention`, :func:`plot_attention_over_time`.
Backtests: :func:`plot_rmse_by_maturity`, :func:`plot_fan_chart`, :func:`plot_rmse_over_time`.

Every function takes ``ax=None`` (a new figure when None) and returns the Axes;
matplotlib is imported only when a function is called.
"""

from skyield.plotting._attention import (
    plot_attention_heatmap,
    plot_attention_over_time,
    plot_max_attention,
)
from skyield.plotting._backtest import plot_fan_chart, plot_rmse_by_maturity, plot_rmse_over_time

__all__ = [
    "plot_attention_heatmap",
    "plot_attention_over_time",
    "plot_fan_chart",
    "plot_max_attention",
    "plot_rmse_by_maturity",
    "plot_rmse_over_time",
]
