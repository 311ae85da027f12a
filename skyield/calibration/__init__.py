"""Conformal calibration of forecast intervals and quantiles, valid for time series.

:class:`ConformalIntervalRegressor` wraps any skyield forecaster (or scikit-learn
regressor): it fits a clone on the earlier rows, calibrates on the chronological tail
(with a gap against leakage) and returns intervals and quantiles with a finite-sample
coverage guarantee that never cross. Methods: split conformal on absolute residuals,
conformalized quantile regression, and adaptive conformal inference for online use
under distribution shift.

:class:`MultiQuantileRegressor` turns scikit-learn's single-quantile regressors into a
quantile forecaster with ``predict_quantiles`` and ``predict_interval``.
"""

from ._backtest_intervals import conformalize_backtest
from ._conformal import ConformalIntervalRegressor
from ._multi_quantile import MultiQuantileRegressor

__all__ = ["ConformalIntervalRegressor", "MultiQuantileRegressor", "conformalize_backtest"]
