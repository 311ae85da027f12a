"""Linear-Gaussian dynamic factor model estimated by maximum likelihood (Kalman filter).

The model is statsmodels' :class:`~statsmodels.tsa.statespace.dynamic_factor.DynamicFactor`
(maximum likelihood through the prediction-error decomposition); this module adds what a
scikit-learn sequence model needs around it: training-span standardisation, a factor
normalisation that makes factors comparable across fits, a convergence check, filtering
of new panels with frozen parameters, updates and Gaussian forecast quantiles.
"""

import warnings
from numbers import Integral

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted
from statsmodels.tools.sm_exceptions import ConvergenceWarning as StatsmodelsConvergenceWarning
from statsmodels.tsa.statespace.dynamic_factor import DynamicFactor

from skyield.baselines._statsmodels_state import StateSpaceSequenceMixin
from skyield.utils import Interval, Options

__all__ = ["KalmanFactorModel"]

_ERROR_COVS = {"diagonal": "diagonal", "full": "unstructured"}


def _fallback_start_params(model, values):
    """Start values when statsmodels' own (PCA + VAR) start is not stationary."""
    params = np.zeros(model.k_params)
    names = model.param_names
    k = model.k_factors
    _, singular, vt = np.linalg.svd(values - values.mean(axis=0), full_matrices=False)
    loadings = (vt[:k].T * singular[:k] / np.sqrt(values.shape[0]))
    params[model._params_loadings] = loadings.ravel()
    for i, name in enumerate(names):
        if name.startswith("sigma2."):
            params[i] = 0.5
        elif name.startswith("cov.chol["):
            row, col = name[len("cov.chol["):-1].split(",")
            params[i] = np.sqrt(0.5) if row == col else 0.0
    # Factor transition left at zero: a stationary start by construction.
    return params


class KalmanFactorModel(TransformerMixin, StateSpaceSequenceMixin):
    """Linear-Gaussian dynamic factor model with Kalman filtering (maximum likelihood).

    The state-space model of Snellman's Kalman benchmark (eqs. 33-35), with ``k`` factors
    following a VAR(``factor_order``):

    .. math::

        x_t = A_1 x_{t-1} + \\dots + A_p x_{t-p} + \\varepsilon_t, \\quad
        \\varepsilon_t \\sim N(0, I_k) \\\\
        y_t = \\mu + \\Lambda x_t + u_t, \\quad u_t \\sim N(0, R)

    with ``R`` diagonal or full. The intercepts ``mu`` (the paper's ``mu_i``, with its
    ``mu_x`` absorbed since the two are not separately identified) are the training-span
    means; with ``standardize=True`` the series are also divided by their training-span
    standard deviations, and ``loadings_`` and ``error_cov_`` refer to the standardised
    series. Parameters are estimated by maximum likelihood on the training panel only
    (statsmodels' ``DynamicFactor``, L-BFGS); later panels are filtered with them frozen.

    Parameters
    ----------
    n_factors : int, default=1
        Number of latent factors ``k``.
    error_cov : {"diagonal", "full"}, default="diagonal"
        Measurement error covariance ``R``: diagonal (independent errors) or a full
        symmetric positive-definite matrix (the paper's choice).
    factor_order : int, default=1
        Order ``p`` of the factor VAR (1 is the paper's AR(1) state).
    maxiter : int, default=500
        Maximum number of L-BFGS iterations. A fit that stops unconverged warns with a
        :class:`~sklearn.exceptions.ConvergenceWarning` (statsmodels' own default of 50
        is often too few).
    standardize : bool, default=True
        Divide each series by its training-span standard deviation (the means are always
        removed).

    Attributes
    ----------
    mean_ : ndarray of shape (n_series,)
        Training-span means (the intercepts ``mu``).
    scale_ : ndarray of shape (n_series,)
        Training-span standard deviations, or ones when ``standardize=False``.
    loadings_ : ndarray of shape (n_series, n_factors)
        ``Lambda``, in standardised units. Normalisation: the factor innovations have unit
        variance; for ``k > 1`` series ``i < k`` do not load on factors ``j > i`` (a lower
        triangular top block, so the column order matters); the sign of factor ``j`` makes
        the loading of series ``j`` on it positive. With one factor: the factor moves
        with the first series.
    transition_ : ndarray of shape (n_factors, n_factors * factor_order)
        ``[A_1, ..., A_p]``.
    error_cov_ : ndarray of shape (n_series, n_series)
        ``R``, in standardised units.
    log_likelihood_ : float
        Log-likelihood of the standardised training panel at the estimate.
    converged_ : bool
        Whether the optimiser reported convergence.
    n_iter_ : int
        Optimiser iterations.
    results_ : statsmodels MLEResults
        The fit on the training panel (smoothed), with the normalised parameters.
    state_results_ : statsmodels MLEResults
        Results ending at the last date seen (``results_`` extended by :meth:`update`).
    n_features_in_ : int
        Number of series.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when the training panel had string column labels.
    columns_ : list
        Column labels of the training panel (those of every forecast).
    last_date_ : Timestamp, Period or None
        Last date seen by ``fit`` and ``update`` (None for panels without dates).
    freq_ : pandas offset or None
        Regular frequency of the training dates, if any.
    n_dates_seen_ : int
        Number of dates seen by ``fit`` and ``update``.

    See Also
    --------
    GaussianLinearStateSpace : Yield-curve factor model with free loadings.

    Notes
    -----
    ``transform`` filters (or smooths) a panel from the stationary distribution of the
    factors; filtered factors at a date depend only on that date and earlier ones, so
    fitting on a training span and filtering a longer panel gives a leak-free factor
    series (the prior that the factor Transformer is trained against). ``forecast`` and
    ``sample_paths`` continue from the last date seen; ``predict``, ``predict_quantiles``,
    ``predict_interval`` and ``score`` forecast a block of dates that follows (see
    :class:`skyield.base.BaseSequenceModel`).

    References
    ----------
    Snellman, O. (2024). Nonlinear dynamic factor analysis with a Transformer network.
    Section 3.1, eqs. (33)-(35): the estimated Kalman filter benchmark.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.baselines import KalmanFactorModel
    >>> rng = np.random.default_rng(0)
    >>> factor = np.zeros(300)
    >>> for t in range(1, 300):
    ...     factor[t] = 0.8 * factor[t - 1] + rng.normal()
    >>> Y = factor[:, None] * [1.0, 0.8, 0.6] + rng.normal(size=(300, 3))
    >>> model = KalmanFactorModel(n_factors=1).fit(Y[:200])
    >>> model.transform(Y).shape
    (300, 1)
    >>> round(float(model.transition_[0, 0]), 1)
    0.8
    >>> model.forecast(steps=2).shape
    (2, 3)
    """

    _parameter_constraints = {
        "n_factors": [Interval(Integral, 1, None)],
        "error_cov": [Options(*_ERROR_COVS)],
        "factor_order": [Interval(Integral, 1, None)],
        "maxiter": [Interval(Integral, 1, None)],
        "standardize": ["boolean"],
    }

    def __init__(self, *, n_factors=1, error_cov="diagonal", factor_order=1, maxiter=500,
                 standardize=True):
        self.n_factors = n_factors
        self.error_cov = error_cov
        self.factor_order = factor_order
        self.maxiter = maxiter
        self.standardize = standardize

    @classmethod
    def get_test_params(cls):
        """Small settings for the common estimator checks."""
        return [
            {"n_factors": 1, "maxiter": 5},
            {"n_factors": 1, "standardize": False, "maxiter": 3},
        ]

    def fit(self, Y, y=None):
        """Estimate the model on a training panel by maximum likelihood.

        Parameters
        ----------
        Y : DataFrame of shape (n_dates, n_series) or array-like
            Consecutive dates (rows) of the series; no missing values.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        panel = self._validate_fit_panel(Y, min_length=max(10, 2 * self.factor_order + 2))
        n_factors, factor_order, maxiter = self.n_factors, self.factor_order, self.maxiter
        values = panel.values
        if panel.n_series < max(2, n_factors + 1):
            raise ValueError(
                f"Y has {panel.n_series} series (n_features = {panel.n_series}) but a "
                f"dynamic factor model with n_factors={n_factors} needs at least "
                f"{max(2, n_factors + 1)}"
            )
        self.mean_ = values.mean(axis=0)
        if self.standardize:
            scale = values.std(axis=0)
            constant = np.flatnonzero(scale == 0)
            if constant.size:
                raise ValueError(
                    f"Y column {panel.columns[constant[0]]!r} is constant over the training "
                    f"span and cannot be standardised"
                )
            self.scale_ = scale
        else:
            self.scale_ = np.ones(panel.n_series)
        data = self._to_model_units(values)

        model = DynamicFactor(data, k_factors=n_factors, factor_order=factor_order,
                              error_cov_type=_ERROR_COVS[self.error_cov])
        fixed = self._identification_constraints(model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StatsmodelsConvergenceWarning)
            try:
                start = model.start_params
            except ValueError:  # non-stationary PCA/VAR start
                start = _fallback_start_params(model, data)
            for name, value in fixed.items():
                start[model.param_names.index(name)] = value
            if fixed:
                with model.fix_params(fixed):
                    free = [name not in fixed for name in model.param_names]
                    fitted = model.fit(np.asarray(start)[free], disp=False, maxiter=maxiter,
                                       cov_type="none")
            else:
                fitted = model.fit(start, disp=False, maxiter=maxiter, cov_type="none")
        retvals = fitted.mle_retvals or {}
        self.converged_ = bool(retvals.get("converged", False))
        self.n_iter_ = int(retvals.get("iterations", 0))
        if not self.converged_:
            warnings.warn(
                f"KalmanFactorModel: maximum likelihood did not converge within "
                f"maxiter={maxiter} L-BFGS iterations; increase maxiter",
                ConvergenceWarning, stacklevel=2,
            )

        params = self._normalise_signs(model, np.asarray(fitted.params, dtype=float))
        self.results_ = model.smooth(params, cov_type="none")
        self.state_results_ = self.results_
        self.log_likelihood_ = float(self.results_.llf)
        self._store_parameters(model, params)
        return self

    # -- model pieces --------------------------------------------------------------------

    def _state_space_model(self, data):
        fitted = self.results_.model
        return DynamicFactor(data, k_factors=fitted.k_factors, factor_order=fitted.factor_order,
                             error_cov_type=fitted.error_cov_type)

    @staticmethod
    def _identification_constraints(model):
        names = model.endog_names
        return {
            f"loading.f{j + 1}.{names[i]}": 0.0
            for j in range(model.k_factors) for i in range(min(j, model.k_endog))
        }

    @staticmethod
    def _normalise_signs(model, params):
        k, p = model.k_factors, model.factor_order
        loadings = params[model._params_loadings].reshape(model.k_endog, k)
        signs = np.ones(k)
        for j in range(min(k, model.k_endog)):
            if loadings[j, j] < 0:
                signs[j] = -1.0
        params = params.copy()
        params[model._params_loadings] = (loadings * signs).ravel() + 0.0  # no -0.0
        transition = params[model._params_factor_transition].reshape(k, k * p)
        params[model._params_factor_transition] = (
            signs[:, None] * transition * np.tile(signs, p)[None, :]
        ).ravel()
        return params

    def _store_parameters(self, model, params):
        k, p, n = model.k_factors, model.factor_order, model.k_endog
        self.loadings_ = params[model._params_loadings].reshape(n, k)
        self.transition_ = params[model._params_factor_transition].reshape(k, k * p)
        self.error_cov_ = np.array(self.results_.filter_results.obs_cov[:, :, 0])

    def _to_model_units(self, values):
        return (values - self.mean_) / self.scale_

    def _from_model_units(self, mean, std):
        return mean * self.scale_ + self.mean_, std * self.scale_

    # -- panels with frozen parameters ---------------------------------------------------

    def transform(self, Y, smooth=False):
        """Factors of a panel, filtered with the parameters frozen.

        Parameters
        ----------
        Y : DataFrame of shape (n_dates, n_series) or array-like
            Consecutive dates of the training series (any span, e.g. training plus test);
            filtering starts from the factors' stationary distribution at its first date.
        smooth : bool, default=False
            Return smoothed factors ``E[x_t | all of Y]`` instead of filtered ones
            ``E[x_t | Y up to t]``. Smoothed factors use later dates: do not use them
            where only the past may be seen.

        Returns
        -------
        factors : ndarray of shape (n_dates, n_factors)
        """
        check_is_fitted(self)
        panel = self._validate_panel(Y)
        states, _ = self._filter_panel(panel.values, smooth=smooth)
        return np.asarray(states[:self.loadings_.shape[1]], dtype=float).T

    def get_feature_names_out(self, input_features=None):
        """Names of the factors returned by :meth:`transform`.

        Returns
        -------
        names : ndarray of str of shape (n_factors,)
        """
        check_is_fitted(self)
        return np.asarray([f"factor_{j}" for j in range(self.loadings_.shape[1])],
                          dtype=object)
