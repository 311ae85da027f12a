"""Joint scenario paths from any fitted skyield forecaster: :func:`sample_paths`.

One entry point dispatches on what the fitted model offers (in this order):

1. an ensemble with ``estimators_``: a mixture, each path drawn from one member chosen
   uniformly at random;
2. a sequence model with its own ``sample_paths(n_paths, steps, random_state)``:
   simulation from its fitted state space, conditional on the last filtered state
   (for :class:`~skyield.baselines.DynamicNelsonSiegel`, its factor VAR(1) plus
   measurement noise from the last factors seen);
3. a window regressor with ``predict_quantiles(X, quantiles)``: its one-step marginal
   distributions joined by a Gaussian copula (see :func:`fit_copula`), stepped forward
   recursively.
"""

from numbers import Integral

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from skyield.scenarios._copula import (
    GaussianCopula,
    check_quantile_grid,
    predictive_quantile_grid,
    quantiles_at_scores,
)
from skyield.scenarios._cube import ScenarioCube
from skyield.utils import Interval, check_param

__all__ = ["sample_paths"]


def _single_window(X, n_series, owner):
    """A single window as an array of shape (1, window, n_series)."""
    if X is None:
        raise ValueError(
            f"{owner} forecasts from a window of history: pass X, the last window, of shape "
            f"(window, n_series) or (1, window, n_series)"
        )
    values = np.asarray(X, dtype=float)
    if values.ndim == 2:
        values = values[None]
    if values.ndim != 3 or values.shape[0] != 1:
        raise ValueError(
            f"X must be a single window of shape (window, n_series) or (1, window, "
            f"n_series); got shape {np.shape(X)}. Simulate each origin separately"
        )
    if n_series is not None and values.shape[2] != n_series:
        raise ValueError(
            f"X has {values.shape[2]} series but {owner} was fitted on {n_series}"
        )
    if not np.all(np.isfinite(values)):
        _, row, col = np.argwhere(~np.isfinite(values))[0]
        raise ValueError(f"X has a missing or infinite value at window row {row}, series {col}")
    return values


def _window_dates(X, horizon):
    """Dates after a dated window (DataFrame with a regular DatetimeIndex), else None."""
    if isinstance(X, pd.DataFrame) and isinstance(X.index, pd.DatetimeIndex) \
            and len(X.index) >= 3:
        freq = X.index.freq or pd.infer_freq(X.index)
        if freq is not None:
            dates = pd.date_range(X.index[-1], periods=horizon + 1, freq=freq)[1:]
            return dates.rename("date")
    return None


# ------------------------------------------------------------------------- mixture
def _mixture_paths(estimator, n_paths, horizon, X, rng, kwargs):
    members = list(estimator.estimators_)
    if not members:
        raise ValueError(f"{type(estimator).__name__}.estimators_ is empty")
    chosen = rng.randint(len(members), size=n_paths)
    values, labels = None, None
    for index, member in enumerate(members):
        rows = np.flatnonzero(chosen == index)
        if rows.size == 0:
            continue
        cube = sample_paths(member, rows.size, horizon, X=X, random_state=rng, **kwargs)
        if values is None:
            values = np.empty((n_paths,) + cube.shape[1:])
            labels = cube.dates, cube.maturities
        values[rows] = cube.values
    return ScenarioCube(values, dates=labels[0], maturities=labels[1])


# ------------------------------------------------------------------- sequence models
def _sequence_paths(model, n_paths, horizon, X, rng, kwargs):
    if X is not None:
        raise ValueError(
            f"{type(model).__name__} is a sequence model that continues from the last date "
            f"seen; pass X=None (append new observations with update(Y_new) first)"
        )
    paths = np.asarray(model.sample_paths(n_paths, horizon, random_state=rng, **kwargs),
                       dtype=float)
    forecast = model.forecast(horizon)
    dates, maturities = None, None
    if isinstance(forecast, pd.DataFrame) and forecast.shape[0] == horizon:
        dates = forecast.index.rename(forecast.index.name or "date")
        if forecast.shape[1] == paths.shape[-1]:
            maturities = forecast.columns.rename(forecast.columns.name or "maturity")
    if kwargs.get("maturities") is not None:
        maturities = pd.Index(np.asarray(kwargs["maturities"], dtype=float), name="maturity")
    return ScenarioCube(paths, dates=dates, maturities=maturities)


# ------------------------------------------------------- window regressors + copula
def _copula_paths(model, n_paths, horizon, X, rng, kwargs):
    copula = kwargs.pop("copula", None)
    levels = check_quantile_grid(kwargs.pop("quantile_grid", None))
    if kwargs:
        raise TypeError(f"unexpected arguments for copula paths: {sorted(kwargs)}")
    name = type(model).__name__
    if not isinstance(copula, GaussianCopula):
        raise ValueError(
            f"{name} forecasts marginal quantiles only; pass copula=fit_copula(model, "
            f"X_calibration, y_calibration) to join them across maturities (got "
            f"copula={copula!r})"
        )
    window = _single_window(X, getattr(model, "n_series_in_", None), name)
    n_series = window.shape[2]
    grid_scores = norm.ppf(levels)
    first = predictive_quantile_grid(model, window, levels)  # (1, n_targets, n_levels)
    n_targets = first.shape[1]
    if copula.n_series != n_targets:
        raise ValueError(
            f"the copula joins {copula.n_series} series but {name} forecasts {n_targets}"
        )
    if horizon > 1 and n_targets != n_series:
        raise ValueError(
            f"{name} forecasts {n_targets} of the {n_series} series of its windows; paths "
            f"beyond one step need a model that forecasts every series (targets=None), so "
            f"that each simulated curve can be appended to the window"
        )
    windows = np.repeat(window, n_paths, axis=0)
    values = np.empty((n_paths, horizon, n_targets))
    for h in range(horizon):
        quantiles = np.broadcast_to(first, (n_paths,) + first.shape[1:]) if h == 0 else \
            predictive_quantile_grid(model, windows, levels)
        scores = copula.sample_scores(n_paths, rng)
        values[:, h] = quantiles_at_scores(quantiles, grid_scores, scores)
        if h + 1 < horizon:
            windows = np.concatenate([windows[:, 1:], values[:, h, None, :]], axis=1)
    dates = _window_dates(X, horizon)
    maturities = None
    targets = getattr(model, "targets_", None)
    model_maturities = getattr(model, "maturities_", None)
    if model_maturities is not None and len(model_maturities) == n_series:
        maturities = np.asarray(model_maturities, dtype=float)
    elif isinstance(X, pd.DataFrame):
        maturities = np.asarray(X.columns)
    if maturities is not None and n_targets != n_series and targets is not None:
        maturities = maturities[np.asarray(targets)]
    if maturities is not None and len(maturities) != n_targets:
        maturities = None
    return ScenarioCube(values, dates=dates,
                        maturities=None if maturities is None
                        else pd.Index(maturities, name="maturity"))


def sample_paths(estimator, n_paths, horizon, *, X=None, random_state=None, **kwargs):
    """Simulate joint scenario paths of a yield curve across maturities and horizons.

    Marginal quantiles per maturity do not say how maturities and horizons move
    together; discounting cash flows (Solvency II, IFRS 17) or a VaR of a bond book
    need joint paths. This function dispatches on what the fitted model offers:

    - **ensemble** (``estimators_``, e.g. :class:`~skyield.ensemble.SeedEnsemble`): a
      mixture; every path draws one member uniformly at random and is simulated by
      that member (``X`` and ``kwargs`` passed on).
    - **sequence models** with ``sample_paths(n_paths, steps, random_state)``
      (:class:`~skyield.baselines.DynamicNelsonSiegel`,
      :class:`~skyield.baselines.KalmanFactorModel`,
      :class:`~skyield.baselines.GaussianLinearStateSpace`, ...): the model's own
      simulation from its fitted state space conditional on the last filtered state
      (``X`` must be None; ``kwargs`` are passed on). For the dynamic Nelson-Siegel
      model: factors ``beta_h = c + A beta_{h-1} + eta_h``, ``eta_h ~ N(0, Q)``, curves
      ``Lambda beta_h + eps_h``, ``eps_h ~ N(0, diag(measurement_var_))``, from the last
      factors seen (drawn from the filtered state distribution of a one-step model).
    - **window regressors** with ``predict_quantiles(X, quantiles)`` (quantile or
      Gaussian deep models, :class:`~skyield.baselines.RandomWalk`): the one-step
      marginal quantile functions, read on ``quantile_grid`` and interpolated in
      normal-score coordinates, joined across maturities by ``copula`` (a
      :class:`GaussianCopula` from :func:`fit_copula`). Beyond one step the simulated
      curve is appended to each path's window and the model is asked again, so a
      horizon ``H`` costs ``H - 1`` calls of ``predict_quantiles`` on ``n_paths``
      windows (plus one on the single origin window). Paths are in the units of the
      model's targets (changes for a model of differences). The copula is the same at
      every step and dependence across horizons comes only from the recursion.

    Parameters
    ----------
    estimator : fitted estimator
        One of the kinds above.
    n_paths : int
        Number of simulated paths.
    horizon : int
        Number of steps ahead (1 .. horizon).
    X : array-like of shape (window, n_series) or (1, window, n_series), default=None
        The origin window, for window regressors (a DataFrame with a regular
        DatetimeIndex also dates the horizons). None for sequence models.
    random_state : int, RandomState instance or None, default=None
        Seed of the simulation; one seed gives an identical cube.
    **kwargs
        ``copula`` (required) and ``quantile_grid`` for window regressors; passed to the
        model's own ``sample_paths`` for sequence models.

    Returns
    -------
    cube : ScenarioCube
        ``values`` of shape (n_paths, horizon, n_maturities); ``dates`` the target
        dates when known, else horizon numbers ``1 .. horizon``; ``maturities`` the
        fitted maturities or column labels.

    Raises
    ------
    TypeError
        When the model offers none of ``estimators_``, ``sample_paths`` or
        ``predict_quantiles``.

    References
    ----------
    Diebold, F. X. and Li, C. (2006). Forecasting the term structure of government bond
    yields. Journal of Econometrics, 130(2), 337-364.
    Richman, R. and Scognamiglio, S. (2024). Multiple yield curve modeling and
    forecasting using deep learning. ASTIN Bulletin (section 1: real-world yield
    scenarios in Solvency II and IFRS 17 valuations).

    Examples
    --------
    >>> from skyield.baselines import DynamicNelsonSiegel
    >>> from skyield.datasets import make_nelson_siegel_curves
    >>> from skyield.scenarios import sample_paths
    >>> curves = make_nelson_siegel_curves(n_dates=120, maturities=[0.25, 1, 2, 5, 10],
    ...                                    random_state=0).curves
    >>> model = DynamicNelsonSiegel(dynamics="var").fit(curves)
    >>> cube = sample_paths(model, n_paths=200, horizon=6, random_state=0)
    >>> cube.shape
    (200, 6, 5)
    >>> cube.quantile(0.95).shape
    (6, 5)
    """
    n_paths = check_param(n_paths, "n_paths", [Interval(Integral, 1, None)])
    horizon = check_param(horizon, "horizon", [Interval(Integral, 1, None)])
    check_is_fitted(estimator)
    rng = check_random_state(random_state)
    if isinstance(getattr(estimator, "estimators_", None), list):
        return _mixture_paths(estimator, n_paths, horizon, X, rng, kwargs)
    if callable(getattr(estimator, "sample_paths", None)):
        return _sequence_paths(estimator, n_paths, horizon, X, rng, kwargs)
    if callable(getattr(estimator, "predict_quantiles", None)):
        return _copula_paths(estimator, n_paths, horizon, X, rng, dict(kwargs))
    raise TypeError(
        f"sample_paths cannot simulate {type(estimator).__name__}: it has no sample_paths "
        f"method (sequence models), no predict_quantiles method (window regressors, joined "
        f"by a copula) and no estimators_ (ensembles)"
    )
