"""Dynamic Nelson-Siegel and Svensson models (DNS / DSV), two-step or one-step.

One class serves both kinds of skyield estimators: ``fit(X, y)`` on windows makes it a
window regressor, ``fit(Y)`` on a panel a sequence model with ``transform``,
``forecast`` and ``update``. Both go through the same estimation code, which works on
segments of consecutive curves: a panel is one segment, and windows are chained back
into segments, so that stride-1 windows of a panel give exactly the panel estimates.
"""

from functools import update_wrapper
from numbers import Integral
from types import MethodType

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from skyield.baselines._curve_fit import FACTOR_NAMES, solve_factors
from skyield.baselines._dns_statespace import (
    fit_one_step,
    fit_two_step,
    forecast_moments,
    kalman_filter,
)
from skyield.baselines._random_walk import (
    flattened_r2_score,
    interval_levels,
    validate_window_data,
    resolve_horizons,
    resolve_targets,
)
from skyield.utils.validation import (
    check_family_panel,
    check_increasing_levels,
    check_panel,
    resolve_maturities,
    restore_target_layout,
    validate_windows,
)

__all__ = ["DynamicNelsonSiegel"]

_DYNAMICS = ("ar", "var")
_METHODS = ("two-step", "kalman")
_STATE_COVS = ("auto", "full", "diagonal")


class _panel_only:
    """A method that exists only on an estimator fitted on a panel.

    scikit-learn's common checks treat any estimator with a ``transform`` attribute as
    a transformer; the factor filter is defined only after a panel fit, so ``hasattr``
    is False otherwise and the AttributeError says why.
    """

    def __init__(self, function):
        self.function = function
        update_wrapper(self, function)

    def __get__(self, instance, owner=None):
        if instance is None:
            return self.function
        mode = getattr(instance, "mode_", None)
        if mode != "panel":
            state = "is not fitted" if mode is None else "was fitted on windows: use predict(X)"
            raise AttributeError(
                f"{type(instance).__name__}.{self.function.__name__} is available after "
                f"fit(Y) on a panel (with y=None); this estimator {state}"
            )
        return MethodType(self.function, instance)


def window_segments(X3, future=None):
    """Chain windows into segments of consecutive curves.

    Window ``i`` continues window ``i - 1`` when ``X[i, :-1] == X[i - 1, 1:]``; windows of
    a single date always chain (the condition holds trivially), so their rows are read
    as consecutive dates. A segment is its first window followed by the last curve of
    every window chained to it, then ``future`` curves of its last window.

    Parameters
    ----------
    X3 : ndarray of shape (n_samples, window, n_series)
    future : ndarray of shape (n_samples, n_future, n_series), default=None
        Curves at steps 1 .. n_future after each window's last date.

    Returns
    -------
    segments : list of ndarray of shape (n_dates_s, n_series)
    """
    n, window, _ = X3.shape
    if window >= 2:
        chained = np.all(X3[1:, :-1] == X3[:-1, 1:], axis=(1, 2))
    else:
        chained = np.ones(n - 1, dtype=bool)
    starts = np.concatenate([[0], np.flatnonzero(~chained) + 1, [n]])
    segments = []
    for a, b in zip(starts[:-1], starts[1:]):
        parts = [X3[a], X3[a + 1:b, -1]]
        if future is not None:
            parts.append(future[b - 1])
        segments.append(np.vstack(parts))
    return segments


def _check_steps(steps):
    if isinstance(steps, Integral) and not isinstance(steps, bool):
        if steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps}")
        return np.arange(1, int(steps) + 1)
    values = np.asarray(steps)
    if values.ndim != 1 or values.size == 0 or values.dtype.kind not in "iu" \
            or np.any(values < 1) or np.any(np.diff(values) <= 0):
        raise ValueError(
            f"steps must be a positive integer or strictly increasing positive integers, "
            f"got {steps!r}"
        )
    return values.astype(int)


def _standard_deviation(variance):
    """Square root of forecast variances that are sums of positive semi-definite terms.

    With curves that the factors fit exactly (as many maturities as factors, or noise-free
    data) the variance is zero and rounding can leave it a few ulps below zero; that is
    read as zero. A clearly negative variance would be a bug and raises.
    """
    variance = np.asarray(variance, dtype=float)
    scale = max(float(np.max(np.abs(variance), initial=0.0)), 1.0)
    if np.any(variance < -1e-10 * scale):
        raise FloatingPointError("negative forecast variance; please report this data set")
    return np.sqrt(np.clip(variance, 0.0, None))


class DynamicNelsonSiegel(RegressorMixin, BaseEstimator):
    """Dynamic Nelson-Siegel (DNS) or Svensson (DSV) model, two-step or one-step.

    The yields at maturities ``tau`` follow the Gaussian linear state space

    ``y_t = Lambda beta_t + eps_t``,  ``eps_t ~ N(0, diag(h))``,
    ``beta_t = mu + A (beta_{t-1} - mu) + eta_t``,  ``eta_t ~ N(0, Q)``,

    with Nelson-Siegel (level, slope, curvature) or Svensson (plus a second curvature)
    loadings ``Lambda`` at fixed decays, and ``A`` diagonal (independent AR(1) factors,
    ``dynamics="ar"``) or full (VAR(1), ``dynamics="var"``).

    ``method="two-step"`` (Diebold and Li, 2006): OLS factors of every curve, then the
    AR(1)/VAR(1) with intercept by OLS on the transitions between consecutive curves,
    ``Q`` from its residuals (divided by the residual degrees of freedom) and ``h`` per
    maturity from the cross-sectional residuals (corrected for the leverage of each
    maturity in the OLS fit). ``method="kalman"`` (the one-step DNS/DSV of Kauffmann et
    al., 2022): maximum likelihood of ``mu, A, Q, h`` by BFGS with the exact gradient
    of the Kalman-filter log-likelihood (automatic differentiation), started from the
    two-step estimates, with ``A`` kept stationary and the decays fixed at their two-step
    values; ``log_likelihood_`` is statsmodels' Kalman-filter log-likelihood at the
    estimates, and a :class:`~sklearn.exceptions.ConvergenceWarning` says when the
    optimiser stopped before converging. On smooth fitted curves the maximum often puts
    the measurement variance of some maturities at (numerically) zero.

    **Windows** (``fit(X, y)``): ``X`` holds windows of curves ``(n_samples, window,
    n_maturities)``; ``y`` the curves (or the ``targets`` maturities) at the horizons.
    Windows are chained back into segments of consecutive dates (window ``i`` continues
    window ``i - 1`` when ``X[i, :-1] == X[i - 1, 1:]``; one-date windows always chain);
    when the horizons of ``y`` start at ``1, 2, ...`` and ``y`` holds every maturity, the
    target curves at those leading consecutive horizons extend each segment. The
    estimators then run on the segments (the one-step log-likelihood is the sum over
    segments, each started from the stationary distribution), so stride-1 windows of a
    panel give the panel estimates. ``predict`` forecasts from the last curve of each
    window: its OLS factors (two-step) or the state filtered over the window from the
    stationary distribution (one-step), ``mu + A^h (beta_t - mu)``, mapped through the
    loadings.

    **Panel** (``fit(Y)`` with ``y=None``): ``Y`` is a DataFrame (dates x maturities,
    maturities parsed from the column labels; several families as a (family, date)
    MultiIndex) or a 2-D array with ``maturities=``. Then ``transform(Y)`` gives the
    factors per date, ``forecast(steps)`` continues from the end of the last panel seen
    and ``update(Y_new)`` appends observations without re-estimating.

    Predictive distributions are Gaussian: the curve variance at horizon ``h`` is
    ``diag(Lambda V_h Lambda') + h`` with ``V_h = sum_{j<h} A^j Q A^j'`` (plus ``A^h P
    A^h'`` for the filtered state covariance ``P`` of the one-step model), giving the
    intervals whose coverage (PICP) and width (MPIW) Richman and Scognamiglio (2024)
    report in their Table 1.

    Several curve families get separate parameters: pass ``families=`` (one label per
    window) to ``fit`` and ``predict`` in window mode, or a (family, date) MultiIndex
    panel. ``families`` is routed by scikit-learn's metadata routing (``set_fit_request``,
    ``set_predict_request``, ``set_score_request``).

    Parameters
    ----------
    factors : {"ns", "nss"}, default="ns"
        Nelson-Siegel (3 factors) or Svensson (4 factors).
    dynamics : {"ar", "var"}, default="ar"
        Independent AR(1) factors or a VAR(1).
    method : {"two-step", "kalman"}, default="two-step"
        OLS two-step estimation, or one-step maximum likelihood.
    decay : {"diebold-li", "mean-maturity", "grid"}, float or pair, default="diebold-li"
        Decay rule or value(s) in 1/years (a pair ``(decay1, decay2)`` for Svensson);
        see :func:`skyield.baselines.fit_nelson_siegel`. ``"grid"`` minimises the total
        squared error over the training curves.
    maturities : array-like of shape (n_maturities,), "uniform" or None, default=None
        Maturities in years. Needed for array input; a panel DataFrame's column labels
        give them otherwise.
    horizons : int or list of int, default=None
        Steps ahead held by the horizon axis of ``y`` (window mode); None means
        ``1 .. horizon``.
    window : int, default=None
        Window length for reading a 2-D ``X`` in window mode.
    targets : int, list of int or None, default=None
        Maturities (positions) held by the columns of ``y``; None means all of them.
    state_cov : {"auto", "full", "diagonal"}, default="auto"
        Form of ``Q``: "auto" is diagonal for ``dynamics="ar"`` and full for "var".
        The one-step model parameterises a full ``Q`` by its Cholesky factor.
    maxiter : int, default=500
        Iteration limit of the one-step optimiser (BFGS).

    Attributes
    ----------
    mode_ : {"windows", "panel"}
        How the model was fitted.
    maturities_ : ndarray of shape (n_maturities,)
        Maturities in years.
    decay_ : float, tuple of (float, float), or ndarray of shape (n_families,) or (n_families, 2)
        Resolved decay(s) in 1/years.
    loadings_ : ndarray of shape (n_maturities, n_factors)
    transition_ : ndarray of shape (n_factors, n_factors)
        ``A``.
    intercept_ : ndarray of shape (n_factors,)
        ``c = (I - A) mu``.
    mean_ : ndarray of shape (n_factors,)
        ``mu`` (NaN if a two-step ``A`` has a unit root).
    state_cov_ : ndarray of shape (n_factors, n_factors)
        ``Q``.
    measurement_var_ : ndarray of shape (n_maturities,)
        ``h``.
    log_likelihood_ : float
        Maximised log-likelihood (``method="kalman"`` only).
    converged_ : bool
        Whether the optimiser converged (``method="kalman"`` only).
    factors_ : DataFrame or ndarray of shape (n_dates, n_factors)
        Training factors (panel mode): OLS (two-step) or filtered (one-step).
    families_ : ndarray of shape (n_families,) or None
        Family labels; with families, every parameter attribute above gains a leading
        axis in this order.
    params_ : dict
        ``{family: DNSParams}`` (key None without families), the full parameter sets.
    n_features_in_ : int
        Number of features of ``X`` (window mode) or maturities (panel mode).

    References
    ----------
    Diebold, F. X. and Li, C. (2006). Forecasting the term structure of government bond
    yields. Journal of Econometrics, 130(2), 337-364.
    Richman, R. and Scognamiglio, S. (2024). Multiple yield curve modeling and
    forecasting using deep learning. ASTIN Bulletin, section 2 and appendix A.1.
    Kauffmann, P. C., Takada, H. H., Terada, A. T. and Stern, J. M. (2022). Learning
    forecast-efficient yield curve factor decompositions with neural networks.
    Econometrics, 10(2), 15, sections 2 and 4.2.

    Examples
    --------
    >>> from skyield.baselines import DynamicNelsonSiegel
    >>> from skyield.datasets import make_nelson_siegel_curves
    >>> curves = make_nelson_siegel_curves(n_dates=120, maturities=[0.25, 1, 2, 5, 10, 30],
    ...                                    random_state=0).curves
    >>> model = DynamicNelsonSiegel(dynamics="var").fit(curves)
    >>> model.forecast(3).shape
    (3, 6)
    >>> model.forecast_interval(3, coverage=0.9).shape
    (3, 6, 2)
    """

    def __init__(self, factors="ns", dynamics="ar", method="two-step", decay="diebold-li",
                 maturities=None, horizons=None, window=None, targets=None,
                 state_cov="auto", maxiter=500):
        self.factors = factors
        self.dynamics = dynamics
        self.method = method
        self.decay = decay
        self.maturities = maturities
        self.horizons = horizons
        self.window = window
        self.targets = targets
        self.state_cov = state_cov
        self.maxiter = maxiter

    # ------------------------------------------------------------------ fitting
    def _check_params(self):
        if self.factors not in FACTOR_NAMES:
            raise ValueError(f"factors must be 'ns' or 'nss', got {self.factors!r}")
        if self.dynamics not in _DYNAMICS:
            raise ValueError(f"dynamics must be one of {_DYNAMICS}, got {self.dynamics!r}")
        if self.method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {self.method!r}")
        if self.state_cov not in _STATE_COVS:
            raise ValueError(f"state_cov must be one of {_STATE_COVS}, got {self.state_cov!r}")
        if not isinstance(self.maxiter, Integral) or isinstance(self.maxiter, bool) \
                or self.maxiter < 1:
            raise ValueError(f"maxiter must be a positive integer, got {self.maxiter!r}")

    def _state_cov_type(self):
        if self.state_cov == "auto":
            return "diagonal" if self.dynamics == "ar" else "full"
        return self.state_cov

    def _n_factors(self):
        return len(FACTOR_NAMES[self.factors])

    def fit(self, X, y=None, families=None):
        """Fit on windows (``y`` given) or on a panel (``y=None``).

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_maturities), or a panel
            Windows of curves (or 2-D, ``(n_samples, n_features)``, read with ``window``);
            or, with ``y=None``, a panel: DataFrame of shape (n_dates, n_maturities) (a
            (family, date) MultiIndex for several families) or a 2-D array with
            ``maturities=``.
        y : array-like of shape (n_samples, horizon, n_targets), default=None
            Curves (or the ``targets`` maturities) at the horizons; also (n_samples,) or
            (n_samples, n_targets) for one horizon. None for a panel.
        families : array-like of shape (n_samples,), default=None
            Family label of each window (window mode).

        Returns
        -------
        self : DynamicNelsonSiegel
        """
        self._check_params()
        for name in ("log_likelihood_", "converged_", "factors_", "feature_names_in_"):
            if hasattr(self, name):
                delattr(self, name)
        if y is None:
            if families is not None:
                raise ValueError(
                    "families are read from the (family, date) MultiIndex of a panel; pass "
                    "families= only with windows (fit(X, y, families=...))"
                )
            return self._fit_panel(X)
        return self._fit_windows(X, y, families)

    def _estimate(self, segments, maturities, family, n_samples=None):
        params, segment_factors = fit_two_step(
            segments, maturities, self.factors, self.dynamics, self.decay,
            self._state_cov_type(), n_samples=n_samples,
        )
        if self.method == "kalman":
            params = fit_one_step(segments, params, segment_factors, self.dynamics,
                                  self._state_cov_type(), self.maxiter,
                                  label="" if family is None else str(family))
        return params, segment_factors

    def _fit_windows(self, X, y, families):
        X3, y3, self.target_layout_ = validate_window_data(self, X, y, self.window)
        n, _, n_series = X3.shape
        k = self._n_factors()
        if n_series < k:
            hint = (" (a 2-D X is read as one series of n_features lags unless window is set)"
                    if np.ndim(X) == 2 and self.window is None else "")
            raise ValueError(
                f"DynamicNelsonSiegel(factors={self.factors!r}) needs curves of at least "
                f"{k} maturities; the windows hold {n_series} series "
                f"(n_features={n_series}){hint}"
            )
        if self.maturities is None:
            raise ValueError(
                "DynamicNelsonSiegel on windows needs maturities=[...] in years (one per "
                "series), or maturities='uniform' for 1, 2, ..., n_series years"
            )
        self.maturities_ = resolve_maturities(self.maturities, n_series)
        self.targets_ = resolve_targets(self.targets, n_series, y3.shape[2], "DynamicNelsonSiegel")
        self.horizons_ = resolve_horizons(self.horizons, y3.shape[1])
        self.n_series_in_ = n_series
        future = None
        if self.targets_.size == n_series and np.all(self.targets_ == np.arange(n_series)):
            leading = int(np.sum(self.horizons_ == np.arange(1, self.horizons_.size + 1)))
            if leading:
                future = y3[:, :leading, :]
        groups = self._family_groups(families, n, fitting=True)
        params = {}
        for family, rows in groups.items():
            segments = window_segments(X3[rows], None if future is None else future[rows])
            try:
                params[family], _ = self._estimate(segments, self.maturities_, family,
                                                   rows.size)
            except ValueError as error:
                if family is None:
                    raise
                raise ValueError(f"family {family!r}: {error}") from None
        self._publish(params)
        self.mode_ = "windows"
        return self

    def _family_groups(self, families, n_samples, fitting):
        if families is None:
            if not fitting and self.families_ is not None:
                raise ValueError(
                    "this model was fitted with families; pass families= (one label per "
                    "window) to predict"
                )
            return {None: np.arange(n_samples)}
        labels = np.asarray(families, dtype=object)
        if labels.ndim != 1 or labels.shape[0] != n_samples:
            raise ValueError(
                f"families must have one label per window: expected shape ({n_samples},), "
                f"got {labels.shape}"
            )
        if pd.isna(labels).any():
            first = int(np.flatnonzero(pd.isna(labels))[0])
            raise ValueError(f"families has a missing label at window {first}")
        if fitting:
            self.families_ = np.asarray(pd.unique(labels), dtype=object)
        elif self.families_ is None:
            raise ValueError("this model was fitted without families; do not pass families=")
        else:
            unknown = [f for f in pd.unique(labels) if f not in set(self.families_)]
            if unknown:
                raise ValueError(
                    f"family {unknown[0]!r} was not seen in fit; fitted families: "
                    f"{list(self.families_)}"
                )
        if fitting:
            return {f: np.flatnonzero(labels == f) for f in self.families_}
        return {f: np.flatnonzero(labels == f) for f in pd.unique(labels)}

    def _publish(self, params):
        self.params_ = params
        keys = list(params)
        if keys == [None]:
            self.families_ = None

        def stack(name):
            values = [getattr(params[f], name) for f in keys]
            return values[0] if keys == [None] else np.stack([np.asarray(v) for v in values])

        self.decay_ = stack("decay")
        self.loadings_ = stack("loadings")
        self.transition_ = stack("transition")
        self.intercept_ = stack("intercept")
        self.mean_ = stack("mean")
        self.state_cov_ = stack("state_cov")
        self.measurement_var_ = stack("measurement_var")
        if self.method == "kalman":
            self.log_likelihood_ = stack("log_likelihood")
            self.converged_ = stack("converged")

    def _read_panel(self, Y, name="Y"):
        """Validated panels per family (key None for a single family)."""
        if isinstance(Y, pd.DataFrame) and isinstance(Y.index, pd.MultiIndex):
            return check_family_panel(Y, name=name, maturities=self.maturities,
                                      need_maturities=True)
        return {None: check_panel(Y, name=name, maturities=self.maturities,
                                  need_maturities=True)}

    def _fit_panel(self, Y):
        panels = self._read_panel(Y)
        first = next(iter(panels.values()))
        k = self._n_factors()
        if first.n_series < k:
            raise ValueError(
                f"DynamicNelsonSiegel(factors={self.factors!r}) needs at least {k} "
                f"maturities, the panel has {first.n_series}"
            )
        self.maturities_ = first.maturities
        self.n_features_in_ = first.n_series
        self.columns_ = list(first.columns)
        self.families_ = None if list(panels) == [None] else np.asarray(list(panels), dtype=object)
        params, factors, states = {}, {}, {}
        for family, panel in panels.items():
            try:
                params[family], segment_factors = self._estimate(
                    [panel.values], self.maturities_, family)
            except ValueError as error:
                if family is None:
                    raise
                raise ValueError(f"family {family!r}: {error}") from None
            if self.method == "kalman":
                means, covs = kalman_filter(params[family], panel.values[None])
                factors[family] = means[0]
                states[family] = (means[0, -1], covs[-1])
            else:
                factors[family] = segment_factors[0]
                states[family] = (segment_factors[0][-1], None)
        self._publish(params)
        self.factors_ = self._factor_output(panels, factors)
        self.panel_state_ = {
            family: {"state": states[family][0], "cov": states[family][1],
                     "index": panels[family].index, "n_dates": panels[family].n_dates}
            for family in panels
        }
        self.mode_ = "panel"
        return self

    def _factor_output(self, panels, factors):
        names = list(FACTOR_NAMES[self.factors])
        if list(panels) == [None]:
            panel = panels[None]
            if panel.index is None:
                return factors[None]
            return pd.DataFrame(factors[None], index=panel.index, columns=names)
        frames = {f: pd.DataFrame(factors[f], index=panels[f].index, columns=names)
                  for f in panels}
        return pd.concat(frames, names=["family", panels[next(iter(panels))].index.name])

    # --------------------------------------------------------------- window mode
    def _check_window_mode(self, method):
        check_is_fitted(self)
        if self.mode_ != "windows":
            raise ValueError(
                f"{method} needs a model fitted on windows (fit(X, y)); this one was fitted "
                f"on a panel: use forecast(steps), forecast_quantiles or forecast_interval"
            )

    def _window_moments(self, X, families):
        self._check_window_mode("predict")
        X3, _ = validate_windows(self, X, window=self.window, reset=False)
        groups = self._family_groups(families, X3.shape[0], fitting=False)
        shape = (X3.shape[0], self.horizons_.size, self.targets_.size)
        mean, var = np.empty(shape), np.empty(shape)
        for family, rows in groups.items():
            params = self.params_[family]
            if self.method == "kalman":
                means, covs = kalman_filter(params, X3[rows])
                state, cov = means[:, -1], covs[-1]
            else:
                state, _ = solve_factors(X3[rows, -1], params.loadings)
                cov = None
            m, v = forecast_moments(params, state, self.horizons_, cov)
            mean[rows] = m[:, :, self.targets_]
            var[rows] = v[None][:, :, self.targets_]
        return mean, var

    def predict(self, X, families=None):
        """Forecast the target curves from the last curve of each window.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_maturities) or (n_samples, n_features)
        families : array-like of shape (n_samples,), default=None
            Family label of each window, when fitted with families.

        Returns
        -------
        y_pred : ndarray of the layout of ``y`` in ``fit``
        """
        mean, _ = self._window_moments(X, families)
        return restore_target_layout(mean, self.target_layout_)

    def predict_quantiles(self, X, quantiles=(0.05, 0.5, 0.95), families=None):
        """Gaussian predictive quantiles.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_maturities) or (n_samples, n_features)
        quantiles : array-like of shape (n_quantiles,), default=(0.05, 0.5, 0.95)
            Strictly increasing levels in (0, 1).
        families : array-like of shape (n_samples,), default=None

        Returns
        -------
        y_quantiles : ndarray
            The layout of ``predict`` with a last axis of length n_quantiles.
        """
        levels = check_increasing_levels(quantiles)
        mean, var = self._window_moments(X, families)
        values = mean[..., None] + _standard_deviation(var)[..., None] * norm.ppf(levels)
        return restore_target_layout(values, self.target_layout_)

    def predict_interval(self, X, coverage=0.95, families=None):
        """Central Gaussian predictive interval.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_maturities) or (n_samples, n_features)
        coverage : float, default=0.95
        families : array-like of shape (n_samples,), default=None

        Returns
        -------
        y_interval : ndarray
            The layout of ``predict`` with a last axis (lower, upper).
        """
        return self.predict_quantiles(X, interval_levels(coverage), families=families)

    def score(self, X, y, sample_weight=None, families=None):
        """Coefficient of determination over all horizons and targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_maturities) or (n_samples, n_features)
        y : array-like of the layout given to ``fit``
        sample_weight : array-like of shape (n_samples,), default=None
        families : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
            ``r2_score`` with the horizon and target axes flattened into outputs.
        """
        return flattened_r2_score(y, self.predict(X, families=families), sample_weight)

    # ---------------------------------------------------------------- panel mode
    def _check_panel_mode(self, method):
        check_is_fitted(self)
        if self.mode_ != "panel":
            raise ValueError(
                f"{method} needs a model fitted on a panel (fit(Y) with y=None); this one "
                f"was fitted on windows: use predict(X)"
            )

    @_panel_only
    def transform(self, Y, smooth=False):
        """Factor estimates per date of a panel, with the fitted parameters.

        Parameters
        ----------
        Y : DataFrame of shape (n_dates, n_maturities) or array-like
            A panel with the fitted maturities (a (family, date) MultiIndex for families).
        smooth : bool, default=False
            ``method="kalman"`` only: smoothed instead of filtered factors.

        Returns
        -------
        factors : DataFrame or ndarray of shape (n_dates, n_factors)
            OLS factors (two-step) or the states filtered (smoothed) from the stationary
            distribution (one-step); a DataFrame when ``Y`` is one.
        """
        self._check_panel_mode("transform")
        if smooth and self.method != "kalman":
            raise ValueError("smooth=True needs method='kalman'; two-step factors are OLS fits")
        panels = self._panels_like_fit(Y, "Y")
        factors = {}
        for family, panel in panels.items():
            params = self.params_[family]
            if self.method == "kalman":
                factors[family] = kalman_filter(params, panel.values[None], smooth=smooth)[0][0]
            else:
                factors[family] = solve_factors(panel.values, params.loadings)[0]
        return self._factor_output(panels, factors)

    def _panels_like_fit(self, Y, name):
        panels = self._read_panel(Y, name=name)
        for family, panel in panels.items():
            where = "" if family is None else f"family {family!r}: "
            if family not in self.params_:
                raise ValueError(
                    f"{name} holds family {family!r}, which was not seen in fit"
                    if family is not None else
                    f"this model was fitted on families {list(self.families_)}; {name} must "
                    f"have a (family, date) MultiIndex"
                )
            if panel.n_series != self.n_features_in_ or not np.allclose(
                    panel.maturities, self.maturities_):
                raise ValueError(
                    f"{where}{name} has maturities {panel.maturities.tolist()} but the model "
                    f"was fitted on {self.maturities_.tolist()}"
                )
        return panels

    def update(self, Y):
        """Append observations after the end of the last panel seen (no re-estimation).

        Parameters
        ----------
        Y : DataFrame of shape (n_new, n_maturities) or array-like
            New curves, dated after the last date seen (for DataFrames with dates).

        Returns
        -------
        self : DynamicNelsonSiegel
        """
        self._check_panel_mode("update")
        panels = self._panels_like_fit(Y, "Y")
        for family, panel in panels.items():
            stored = self.panel_state_[family]
            where = "" if family is None else f"family {family!r}: "
            self._check_follows(family, panel, where)
            params = self.params_[family]
            if self.method == "kalman":
                A = params.transition
                prior_mean = params.intercept + A @ stored["state"]
                prior_cov = A @ stored["cov"] @ A.T + params.state_cov
                means, covs = kalman_filter(params, panel.values[None], prior_mean, prior_cov)
                stored["state"], stored["cov"] = means[0, -1], covs[-1]
            else:
                stored["state"] = solve_factors(panel.values[-1:], params.loadings)[0][0]
            if stored["index"] is not None and panel.index is not None:
                stored["index"] = stored["index"].append(panel.index)
            stored["n_dates"] += panel.n_dates
        return self

    def _check_follows(self, family, panel, where):
        """New dates must follow the last date seen (the next one, at a known frequency)."""
        seen = self.panel_state_[family]["index"]
        if seen is None or panel.index is None:
            return
        last, first = seen[-1], panel.index[0]
        if not first > last:
            raise ValueError(
                f"{where}update expects dates after the last one seen ({last!r}); Y starts "
                f"at {first!r}"
            )
        freq = self._freq(family)
        if freq is not None:
            expected = pd.date_range(last, periods=2, freq=freq)[1]
            if first != expected:
                raise ValueError(
                    f"{where}Y starts at {first!r} but the date after the last one seen "
                    f"({last!r}) at frequency {pd.tseries.frequencies.to_offset(freq).freqstr} "
                    f"is {expected!r} (a gap or an off-grid date)"
                )

    def _freq(self, family):
        index = self.panel_state_[family]["index"]
        if isinstance(index, pd.DatetimeIndex):
            return index.freq or (pd.infer_freq(index) if len(index) >= 3 else None)
        return None

    def _forecast_index(self, family, steps):
        index = self.panel_state_[family]["index"]
        freq = self._freq(family)
        if freq is not None:
            future = pd.date_range(index[-1], periods=int(steps[-1]) + 1, freq=freq)[1:]
            return pd.DatetimeIndex(future[steps - 1], name=index.name)
        return pd.Index(steps, name="step")

    def _forecast_moments(self, method, steps):
        """Mean and variance per family, stacked in the row order of ``forecast``."""
        self._check_panel_mode(method)
        steps = _check_steps(steps)
        means, variances, indexes = [], [], {}
        for family in self.params_:
            stored = self.panel_state_[family]
            mean, var = forecast_moments(self.params_[family], stored["state"][None], steps,
                                         stored["cov"])
            means.append(mean[0])
            variances.append(var)
            indexes[family] = self._forecast_index(family, steps)
        if list(indexes) == [None]:
            index = indexes[None]
        else:
            first = next(iter(indexes.values()))
            index = pd.MultiIndex.from_tuples(
                [(f, label) for f, i in indexes.items() for label in i],
                names=["family", first.name])
        return np.vstack(means), np.vstack(variances), index

    def forecast(self, steps=1):
        """Mean forecast of the curves from the end of the last panel seen.

        Parameters
        ----------
        steps : int or list of int, default=1
            ``h`` for steps ``1 .. h``, or the steps ahead themselves.

        Returns
        -------
        forecast : DataFrame of shape (n_steps, n_maturities)
            Indexed by the future dates when the panel's dates have a frequency, else by
            the step; rows ``(family, date)`` (families in ``families_`` order) for
            several families. The columns are those of the panel.
        """
        mean, _, index = self._forecast_moments("forecast", steps)
        return pd.DataFrame(mean, index=index, columns=self.columns_)

    def forecast_quantiles(self, steps=1, quantiles=(0.05, 0.5, 0.95)):
        """Gaussian predictive quantiles of the curves.

        Parameters
        ----------
        steps : int or list of int, default=1
        quantiles : array-like of shape (n_quantiles,), default=(0.05, 0.5, 0.95)
            Strictly increasing levels in (0, 1).

        Returns
        -------
        quantiles : ndarray of shape (n_steps, n_maturities, n_quantiles)
            Rows in the order of :meth:`forecast` (``n_families * n_steps`` rows for
            several families).
        """
        levels = check_increasing_levels(quantiles)
        mean, var, _ = self._forecast_moments("forecast_quantiles", steps)
        return mean[..., None] + _standard_deviation(var)[..., None] * norm.ppf(levels)

    def forecast_interval(self, steps=1, coverage=0.95):
        """Central Gaussian predictive interval of the curves.

        Parameters
        ----------
        steps : int or list of int, default=1
        coverage : float, default=0.95

        Returns
        -------
        interval : ndarray of shape (n_steps, n_maturities, 2)
            Lower and upper bounds along the last axis; rows as in :meth:`forecast`.
        """
        return self.forecast_quantiles(steps, interval_levels(coverage))

    # ------------------------------------------------------------------- checks
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.multi_output = True
        # Curves of random features follow no Nelson-Siegel shape.
        tags.regressor_tags.poor_score = True
        return tags

    @classmethod
    def get_test_params(cls):
        """Small parameter sets for the common estimator checks.

        One-date windows (``window=1``) of generic 2-D data are curves at 1, 2, ...
        years whose rows are read as consecutive dates; ``y`` holds the last maturity.
        """
        return [
            {"window": 1, "maturities": "uniform", "targets": -1, "dynamics": "var"},
            {"window": 1, "maturities": "uniform", "targets": -1, "method": "kalman",
             "maxiter": 3},
        ]
