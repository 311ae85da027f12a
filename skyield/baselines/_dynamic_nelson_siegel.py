"""Dynamic Nelson-Siegel and Svensson models (DNS / DSV), two-step or one-step.

A sequence model (:class:`skyield.base.BaseSequenceModel`): ``fit(Y)`` estimates the
model on a panel of consecutive curves, ``transform`` gives the factors of any panel,
``update`` appends curves and ``forecast`` continues from the last date seen. The
estimation code (:mod:`skyield.baselines._dns_statespace`) works on segments of
consecutive curves; a panel is one segment. Several curve families are modelled one
family at a time by :class:`skyield.compose.PerFamily`.
"""

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import TransformerMixin
from sklearn.utils.validation import check_is_fitted

from skyield.base import BaseSequenceModel
from skyield.baselines._curve_fit import FACTOR_NAMES, solve_factors
from skyield.baselines._dns_statespace import (
    fit_one_step,
    fit_two_step,
    forecast_moments,
    kalman_filter,
)
from skyield.utils import Interval, Options, Satisfies, covariance_factor

__all__ = ["DynamicNelsonSiegel"]


def _is_decay_pair(value):
    pair = tuple(float(v) for v in value)
    return len(pair) == 2 and all(np.isfinite(v) and v > 0 for v in pair)


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


class DynamicNelsonSiegel(TransformerMixin, BaseSequenceModel):
    """Dynamic Nelson-Siegel (DNS) or Svensson (DSV) model, two-step or one-step.

    The yields at maturities ``tau`` follow the Gaussian linear state space

    ``y_t = Lambda beta_t + eps_t``,  ``eps_t ~ N(0, diag(h))``,
    ``beta_t = mu + A (beta_{t-1} - mu) + eta_t``,  ``eta_t ~ N(0, Q)``,

    with Nelson-Siegel (level, slope, curvature) or Svensson (plus a second curvature)
    loadings ``Lambda`` at fixed decays, and ``A`` diagonal (independent AR(1) factors,
    ``dynamics="ar"``) or full (VAR(1), ``dynamics="var"``). ``factor_mean=False`` holds
    ``mu`` at zero, ``beta_t = A beta_{t-1} + eta_t``: the transition without intercept
    of Kauffmann et al. (2022, eq. 3), the form of their NNSS and GLSS models.

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

    ``fit(Y)`` takes a panel: a DataFrame (dates x maturities, maturities parsed from the
    column labels) or a 2-D array with ``maturities=``. Then ``transform(Y)`` gives the
    factors per date, ``forecast(steps)`` continues from the end of the last panel seen,
    ``update(Y_new)`` appends observations without re-estimating, and ``predict(Y)``,
    ``predict_interval(Y)`` and ``score(Y)`` forecast a test block that follows (see
    :class:`skyield.base.BaseSequenceModel`). The state at the last date seen is the OLS
    factors of the last curve (two-step) or the Kalman-filtered state (one-step, filtered
    from the stationary distribution at the first date of the training panel).

    Predictive distributions are Gaussian: the curve variance at horizon ``h`` is
    ``diag(Lambda V_h Lambda') + h`` with ``V_h = sum_{j<h} A^j Q A^j'`` (plus ``A^h P
    A^h'`` for the filtered state covariance ``P`` of the one-step model), giving the
    intervals whose coverage (PICP) and width (MPIW) Richman and Scognamiglio (2024)
    report in their Table 1.

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
        Maturities in years. Needed for array input; a DataFrame's column labels give
        them otherwise.
    state_cov : {"auto", "full", "diagonal"}, default="auto"
        Form of ``Q``: "auto" is diagonal for ``dynamics="ar"`` and full for "var".
        The one-step model parameterises a full ``Q`` by its Cholesky factor.
    maxiter : int, default=500
        Iteration limit of the one-step optimiser (BFGS).
    factor_mean : bool, default=True
        Whether the factors revert to a mean ``mu`` estimated with the other parameters
        (a transition intercept ``(I - A) mu``; Diebold and Li's form). False holds
        ``mu = 0`` (no intercept, the form of Kauffmann et al.'s eq. 3); the same
        parameter of :class:`~skyield.baselines.GaussianLinearStateSpace` and
        :class:`~skyield.models.NeuralStateSpaceModel` switches the same term.
    warm_start : bool, default=False
        ``method="kalman"``: when the model is fitted, start the next ``fit``'s
        maximum likelihood from the previous estimates of ``mu, A, Q, h`` instead of the
        two-step ones. The specification is a cold fit's: the decay and loadings come
        from the new training panel's two-step fit, as without a warm start, and the
        optimiser scales the parameters by the two-step estimates; only its starting
        point differs. The two-step method has nothing to start and ignores it.

    Attributes
    ----------
    maturities_ : ndarray of shape (n_maturities,)
        Maturities in years.
    decay_ : float or tuple of (float, float)
        Resolved decay(s) in 1/years.
    loadings_ : ndarray of shape (n_maturities, n_factors)
    transition_ : ndarray of shape (n_factors, n_factors)
        ``A``.
    intercept_ : ndarray of shape (n_factors,)
        ``c = (I - A) mu`` (zeros with ``factor_mean=False``).
    mean_ : ndarray of shape (n_factors,)
        ``mu`` (NaN if a two-step ``A`` has a unit root; zeros with
        ``factor_mean=False``).
    state_cov_ : ndarray of shape (n_factors, n_factors)
        ``Q``.
    measurement_var_ : ndarray of shape (n_maturities,)
        ``h``.
    log_likelihood_ : float
        Maximised log-likelihood (``method="kalman"`` only).
    converged_ : bool
        Whether the optimiser converged (``method="kalman"`` only).
    factors_ : DataFrame or ndarray of shape (n_dates, n_factors)
        Training factors: OLS (two-step) or filtered (one-step).
    params_ : DNSParams
        The full parameter set.
    state_ : ndarray of shape (n_factors,)
        Factor state at the last date seen.
    state_cov_at_last_ : ndarray of shape (n_factors, n_factors) or None
        Its covariance (one-step model; None for the two-step model, whose factors at
        the last date are taken as known).
    n_features_in_ : int
        Number of maturities.
    columns_, last_date_, freq_, n_dates_seen_
        Panel bookkeeping (see :class:`skyield.base.BaseSequenceModel`).

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
    >>> model = DynamicNelsonSiegel(dynamics="var").fit(curves[:100])
    >>> model.forecast(3).shape
    (3, 6)
    >>> model.forecast(3, coverage=0.9).shape
    (3, 6, 2)
    >>> model.predict(curves[100:]).shape
    (20, 6)
    """

    _parameter_constraints = {
        "factors": [Options("ns", "nss")],
        "dynamics": [Options("ar", "var")],
        "method": [Options("two-step", "kalman")],
        "decay": [Options("diebold-li", "mean-maturity", "grid"),
                  Interval(Real, 0, None, closed="neither"),
                  Satisfies(_is_decay_pair, "a pair of positive decays")],
        "maturities": [None, Options("uniform"), "array-like"],
        "state_cov": [Options("auto", "full", "diagonal")],
        "maxiter": [Interval(Integral, 1, None)],
        "factor_mean": ["boolean"],
        "warm_start": ["boolean"],
    }

    def __init__(self, *, factors="ns", dynamics="ar", method="two-step", decay="diebold-li",
                 maturities=None, state_cov="auto", maxiter=500, factor_mean=True,
                 warm_start=False):
        self.factors = factors
        self.dynamics = dynamics
        self.method = method
        self.decay = decay
        self.maturities = maturities
        self.state_cov = state_cov
        self.maxiter = maxiter
        self.factor_mean = factor_mean
        self.warm_start = warm_start

    # ------------------------------------------------------------------ fitting
    def _state_cov_type(self):
        if self.state_cov == "auto":
            return "diagonal" if self.dynamics == "ar" else "full"
        return self.state_cov

    def _check_model_panel(self, Y, name, min_length=1, maturities=None,
                           need_maturities=False):
        if not hasattr(self, "maturities_"):
            return super()._check_model_panel(Y, name, min_length, maturities=self.maturities,
                                              need_maturities=True)
        # After the fit: the number of series first, then a DataFrame's labels are read
        # and checked against the fitted maturities (an array takes them).
        panel = super()._check_model_panel(Y, name, min_length)
        if panel.n_series != self.maturities_.size:
            raise ValueError(
                f"X has {panel.n_series} features, but {type(self).__name__} is expecting "
                f"{self.maturities_.size} features as input (its maturities)"
            )
        if isinstance(Y, pd.DataFrame) and self.maturities is None:
            panel = super()._check_model_panel(Y, name, min_length, need_maturities=True)
            if not np.allclose(panel.maturities, self.maturities_):
                raise ValueError(
                    f"{name} has maturities {panel.maturities.tolist()} but the model was "
                    f"fitted on {self.maturities_.tolist()}"
                )
        return panel

    def fit(self, Y, y=None):
        """Estimate the model on a panel of consecutive curves.

        Parameters
        ----------
        Y : DataFrame of shape (n_dates, n_maturities) or array-like
            Curves at consecutive dates: a DataFrame whose column labels are maturities
            (e.g. ``"3M"``, ``"10Y"`` or years as numbers), or a 2-D array with
            ``maturities=``. No missing values.
        y : None
            Ignored.

        Returns
        -------
        self : DynamicNelsonSiegel
        """
        previous = self.params_ if self.warm_start and self.method == "kalman" and \
            getattr(self, "log_likelihood_", None) is not None else None
        for name in ("log_likelihood_", "converged_", "maturities_"):
            if hasattr(self, name):
                delattr(self, name)
        k = len(FACTOR_NAMES.get(self.factors, ()))
        panel = self._validate_fit_panel(Y, min_length=3)
        if panel.n_series < k:
            raise ValueError(
                f"DynamicNelsonSiegel(factors={self.factors!r}) needs at least {k} "
                f"maturities, the panel has {panel.n_series} (n_features = {panel.n_series})"
            )
        self.maturities_ = panel.maturities
        params, segment_factors = fit_two_step(
            [panel.values], self.maturities_, self.factors, self.dynamics, self.decay,
            self._state_cov_type(), factor_mean=self.factor_mean,
        )
        if self.method == "kalman":
            if previous is not None:
                self._check_warm_start(previous, params)
            params = fit_one_step([panel.values], params, segment_factors, self.dynamics,
                                  self._state_cov_type(), self.maxiter,
                                  factor_mean=self.factor_mean, warm=previous)
            means, covs = kalman_filter(params, panel.values[None])
            factors, self.state_, self.state_cov_at_last_ = means[0], means[0, -1], covs[-1]
        else:
            factors = segment_factors[0]
            self.state_, self.state_cov_at_last_ = factors[-1], None
        self.params_ = params
        self.decay_ = params.decay
        self.loadings_ = params.loadings
        self.transition_ = params.transition
        self.intercept_ = params.intercept
        self.mean_ = params.mean
        self.state_cov_ = params.state_cov
        self.measurement_var_ = params.measurement_var
        if self.method == "kalman":
            self.log_likelihood_ = params.log_likelihood
            self.converged_ = params.converged
        self.factors_ = self._factor_output(panel, factors)
        return self

    @staticmethod
    def _check_warm_start(previous, two_step):
        """A warm start needs the previous parameters to have the new ones' shapes."""
        if previous.loadings.shape != two_step.loadings.shape:
            raise ValueError(
                f"DynamicNelsonSiegel(warm_start=True) starts from the previous fit, whose "
                f"loadings have shape {previous.loadings.shape} (maturities x factors), "
                f"not {two_step.loadings.shape}: fit with warm_start=False"
            )

    def _factor_output(self, panel, factors):
        if panel.index is None:
            return factors
        return pd.DataFrame(factors, index=panel.index,
                            columns=list(FACTOR_NAMES[self.factors]))

    # ------------------------------------------------------------------ factors
    def transform(self, Y, smooth=False):
        """Factor estimates per date of a panel, with the fitted parameters.

        Parameters
        ----------
        Y : DataFrame of shape (n_dates, n_maturities) or array-like
            A panel with the fitted maturities.
        smooth : bool, default=False
            ``method="kalman"`` only: smoothed instead of filtered factors.

        Returns
        -------
        factors : DataFrame or ndarray of shape (n_dates, n_factors)
            OLS factors (two-step) or the states filtered (smoothed) from the stationary
            distribution (one-step); a DataFrame when ``Y`` is one.
        """
        check_is_fitted(self)
        if smooth and self.method != "kalman":
            raise ValueError("smooth=True needs method='kalman'; two-step factors are OLS fits")
        panel = self._validate_panel(Y)
        if self.method == "kalman":
            factors = kalman_filter(self.params_, panel.values[None], smooth=smooth)[0][0]
        else:
            factors = solve_factors(panel.values, self.loadings_)[0]
        return self._factor_output(panel, factors)

    def get_feature_names_out(self, input_features=None):
        """Names of the factors returned by :meth:`transform`.

        Returns
        -------
        names : ndarray of str of shape (n_factors,)
        """
        check_is_fitted(self)
        return np.asarray(FACTOR_NAMES[self.factors], dtype=object)

    # ------------------------------------------------------------------ sequence hooks
    def _update(self, values):
        params = self.params_
        if self.method == "kalman":
            A = params.transition
            prior_mean = params.intercept + A @ self.state_
            prior_cov = A @ self.state_cov_at_last_ @ A.T + params.state_cov
            means, covs = kalman_filter(params, values[None], prior_mean, prior_cov)
            self.state_, self.state_cov_at_last_ = means[0, -1], covs[-1]
        else:
            self.state_ = solve_factors(values[-1:], params.loadings)[0][0]
            self.state_cov_at_last_ = None

    def _skip(self, n_steps):
        # Predict the state over the unobserved dates; its uncertainty grows with them.
        params = self.params_
        A, Q = params.transition, params.state_cov
        cov = np.zeros_like(Q) if self.state_cov_at_last_ is None else self.state_cov_at_last_
        state = self.state_
        for _ in range(n_steps):
            state = params.intercept + A @ state
            cov = A @ cov @ A.T + Q
        self.state_, self.state_cov_at_last_ = state, cov

    def _forecast_moments(self, steps):
        mean, var = forecast_moments(self.params_, self.state_[None],
                                     np.arange(1, steps + 1), self.state_cov_at_last_)
        return mean[0], _standard_deviation(var)

    def _sample_paths(self, n_paths, steps, rng):
        params = self.params_
        k = params.transition.shape[0]
        state = np.repeat(self.state_[None], n_paths, axis=0)
        if self.state_cov_at_last_ is not None:  # one-step model: the state is uncertain
            state = state + rng.standard_normal((n_paths, k)) @ \
                covariance_factor(self.state_cov_at_last_).T
        state_noise = covariance_factor(params.state_cov)
        noise_sd = np.sqrt(np.clip(params.measurement_var, 0, None))
        values = np.empty((n_paths, steps, params.loadings.shape[0]))
        for h in range(steps):
            state = params.intercept + state @ params.transition.T + \
                rng.standard_normal((n_paths, k)) @ state_noise.T
            values[:, h] = state @ params.loadings.T + \
                rng.standard_normal((n_paths, noise_sd.size)) * noise_sd
        return values

    @classmethod
    def get_test_params(cls):
        """Small parameter sets for the common estimator checks (curves at 1, 2, ... years)."""
        return [
            {"maturities": "uniform", "dynamics": "var"},
            {"maturities": "uniform", "method": "kalman", "maxiter": 3},
            {"maturities": "uniform", "method": "kalman", "maxiter": 3,
             "factor_mean": False},
        ]
