"""Neural network augmented state space model (NNSS) of Kauffmann et al. (2022).

A Gaussian linear state space model of the yield curve whose loading matrix is produced by
a feed-forward network of the maturity, :class:`skyield.nn.NeuralLoadings`, estimated
jointly with the transition by maximum a posteriori (MAP) through the Kalman filter
log-likelihood and the seed's priors (:mod:`._nnss_objective`), from start values of the
two-step dynamic Svensson model (:mod:`._nnss_start`). The panel bookkeeping, ``update``,
``predict`` and the forecast API are those of every sequence model
(:class:`skyield.base.BaseSequenceModel`).

Why an optimisation loop of its own rather than skorch: the MAP objective is one
log-posterior of one long series, evaluated by a Kalman filter over all dates at once
(full batch) and optimised over the network weights *and* the state space parameters
``F, P, Q`` together. There are no samples to batch, no targets and no validation split,
which is what skorch's training loop is built around. The default optimiser is scipy's
L-BFGS-B fed with autograd gradients (bounds keep trial variances finite); full-batch
Adam from PyTorch is the alternative.
"""

import copy
import logging
import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from skyield.base import BaseSequenceModel
from skyield.baselines._dns_statespace import mean_from_intercept
from skyield.models._base import load_previous_weights
from skyield.models._nnss_objective import FILTERS, Priors, log_posterior
from skyield.models._nnss_start import resolve_start_decay, start_loadings, two_step_start
from skyield.nn import NeuralLoadings
from skyield.nn._neural_loadings import ACTIVATIONS, OUTPUT_ACTIVATIONS
from skyield.statespace import smooth_filtered
from skyield.utils import (
    Interval,
    Options,
    Satisfies,
    check_panel,
    check_param,
    covariance_factor,
    resolve_device,
    torch_seed,
)

__all__ = ["NeuralStateSpaceModel"]

logger = logging.getLogger("skyield.models")

_OPTIMIZERS = ("lbfgs", "adam")
_DEFAULT_LR = {"adam": 1e-3}
# Adam stops when the objective improved by less than ``tol`` over this many steps.
_ADAM_WINDOW = 20
# Maturity grid of the pre-training: this many points from 0 to 1.5 x the longest maturity.
_PRETRAIN_POINTS = 200
_PRETRAIN_SPAN = 1.5
# Pre-training reads the start loadings as observed with this error standard deviation.
_PRETRAIN_SD = 0.01
# Variance of every factor at the first date, as a multiple of the mean square of the
# training yields (as GaussianLinearStateSpace): wide against any plausible factor value,
# yet narrow enough that the first Kalman updates keep their significant digits.
_DIFFUSE_SCALE = 10.0
# Objective returned at trial points where the log-posterior cannot be evaluated.
_FAILED_OBJECTIVE = 1e10
# L-BFGS-B: bounds on P and on Q as multiples of the average variance of the yields, the
# gradient tolerance and the evaluation budget per iteration. The upper bounds and P's
# lower bound only keep the line search's trial points finite. Q's lower bound is a real
# constraint: with a flat prior on Q the likelihood can rise without end as one
# maturity's measurement variance goes to zero (a Heywood case), until the filter runs
# out of digits.
_STATE_VAR_BOUNDS = (1e-10, 1e4)
_MEASUREMENT_VAR_BOUNDS = (1e-6, 1e4)
_GTOL = 1e-7
_MAXFUN_PER_ITER = 5


def _is_widths(value):
    widths = tuple(value)
    return all(isinstance(w, Integral) and not isinstance(w, bool) and w >= 1 for w in widths)


def _is_decay_pair(value):
    pair = tuple(float(d) for d in value)
    return len(pair) == 2 and all(np.isfinite(d) and d > 0 for d in pair) and pair[0] != pair[1]


class NeuralStateSpaceModel(TransformerMixin, BaseSequenceModel):
    """Yield-curve state space model with neural-network factor loadings (NNSS).

    For ``k = n_factors`` factors and maturities ``m_1 .. m_M``::

        y_t = H_theta beta_t + eps_t,      eps_t ~ N(0, Q),   Q diagonal
        beta_t = c + F beta_{t-1} + w_t,   w_t ~ N(0, P),     P diagonal

    where row ``i`` of ``H_theta`` is ``g_theta(m_i)``, a feed-forward network of the
    maturity (:class:`skyield.nn.NeuralLoadings`) whose first loading is fixed to 1 and
    whose other ``k - 1`` loadings pass through a sigmoid (in [0, 1]). The loadings are
    defined at every maturity, so curves can be forecast at maturities never observed.
    The intercept ``c`` is zero, as in the seed, unless ``factor_mean=True``.

    **Estimation** (MAP, section 3 of the seed): maximise
    ``log p(y | theta, F, P, Q) + log p(theta) + log p(F | P) + log p(P)`` where the
    log-likelihood is the Kalman filter's prediction error decomposition (the first state
    has the approximately diffuse prior ``N(0, v I)``, ``v`` ten times the mean square of
    the training yields (``initial_state_var_``); missing values are skipped by the
    filter, never filled), ``theta ~ N(0, prior_weight_var I)``, ``P_i ~ IG(prior_a,
    prior_b)`` and the Minnesota prior ``f_ij | P ~ N(1{i=j}, v_ij)`` with
    ``v_ii = prior_lambda^2`` and ``v_ij = (prior_lambda prior_gamma)^2 P_i / P_j``.
    ``Q`` has a flat prior, and so has ``c`` with ``factor_mean=True``. ``P`` and ``Q``
    are optimised through their logarithms and
    ``F`` is unconstrained; the densities are those of ``P`` and ``Q`` themselves, so
    the estimate is the posterior mode of ``(theta, F, P, Q)``.

    **Start values** (section 4.1): the network is pre-trained to reproduce the Svensson
    loadings (at the decays of ``start_decay``) on a grid of 200 maturities from 0 to 1.5
    times the longest maturity, by least squares penalised with the weight prior (the
    loadings read as observed with errors of standard deviation 0.01), so that the MAP
    does not start where the prior on the weights outweighs the likelihood. ``F``, ``P``
    and ``Q`` start from two-step estimates under those loadings: OLS factors per date,
    then a VAR(1) under the model's priors (with the seed's weak priors, the OLS VAR to a
    few digits), with an intercept only with ``factor_mean=True``. For ``n_factors=5`` the fifth start loading is
    the slope loading at the second decay. Details in :mod:`skyield.models._nnss_start`.

    **Optimiser and stopping rule**: ``optimizer="lbfgs"`` runs scipy's L-BFGS-B on the
    gradients given by autograd, for at most ``maxiter`` iterations; it stops when the
    objective (the negative log-posterior divided by the number of observed values)
    changes by less than ``tol`` relative to its size in an iteration, or the largest
    gradient entry falls below 1e-7; when its line search fails it restarts from the last
    point (fresh curvature memory) while that still lowers the objective by more than
    ``tol``. Bounds keep ``P`` within 1e-10 and 1e4 times the average variance of the
    yields and ``Q`` within 1e-6 and 1e4 times it: the lower bound on ``Q`` is a real
    constraint, since with ``Q``'s flat prior the likelihood can grow without end as one
    maturity's measurement variance goes to zero; the others only keep the line
    search's trial points finite. ``optimizer="adam"`` runs ``maxiter`` full-batch
    Adam steps of size ``lr`` and stops when the objective improved by less than ``tol``
    over the last 20 steps. A :class:`~sklearn.exceptions.ConvergenceWarning` says when
    the optimiser stopped before its rule was met. Both move standardised variables
    (``theta / sigma_NN``, ``(F - I) / lambda``, ``log P * sqrt(a + 1)`` and
    ``log Q``), which leaves the MAP unchanged and keeps the problem well conditioned
    when a prior is tight.

    **Warm starts** (``warm_start=True``, for refits on a longer or later span): the
    optimiser starts from the previous fit's estimates rather than from the Svensson
    start, and runs at most ``maxiter`` iterations with the same stopping rule, on the new
    panel only; the initial state variance is computed from the new panel as in a cold
    fit. Only the starting point differs from a cold fit (which ``warm_start=False``
    gives, whatever was fitted before).

    **Forecasts** (section 4.2): ``y_hat_{t+h} = H F^h beta_{t|t}`` (plus
    ``H (I + F + ... + F^{h-1}) c`` with a factor mean) from the filtered
    state at the end of the last panel seen; ``update(Y_new)`` filters new observations
    without re-estimating. Predictive distributions are Gaussian, with covariance
    ``H P_{t+h|t} H' + Q``. At a maturity that was not observed in ``fit``, the
    measurement variance is interpolated linearly in log-variance between the two
    nearest fitted maturities (the nearest one beyond the fitted range).

    The priors' scale matters only through ``prior_b``: its default, the seed's, makes
    the prior mode of each state variance ``b / (a + 1) = 9.1e-4`` in squared units of
    ``Y``, a weakly informative value for yields in percent at daily or weekly
    frequency (skyield's bundled data are in percent); for yields in decimals divide
    ``prior_b`` by 1e4.

    Parameters
    ----------
    n_factors : int, default=4
        Number of factors ``k`` (the seed uses 4 and 5).
    hidden_layers : tuple of int, default=(300, 300)
        Widths of the hidden layers of ``g_theta``.
    activation : str, default="tanh"
        Hidden-layer activation (see :class:`skyield.nn.NeuralLoadings`).
    output_activation : {"sigmoid", "identity", "tanh"}, default="sigmoid"
        Output activation of ``g_theta``; "sigmoid" bounds the loadings in [0, 1].
    maturities : array-like of shape (n_maturities,), "uniform" or None, default=None
        Maturities in years of the columns of ``Y``; None reads them from the column
        labels of a DataFrame; "uniform" means 1, 2, ..., n_maturities years.
    prior_a, prior_b : float, default=0.1, 0.001
        Shape and scale of the inverse-gamma prior on each state variance.
    prior_lambda : float, default=0.5
        Minnesota prior standard deviation of the diagonal of ``F`` around 1.
    prior_gamma : float, default=0.9
        Minnesota relative tightness of the off-diagonal entries of ``F`` (0 < gamma < 1).
    prior_weight_var : float, default=0.05
        Prior variance ``sigma_NN^2`` of every network weight and bias.
    filter : {"sequential", "parallel"}, default="sequential"
        Kalman filter of the likelihood: the sequential recursion or the parallel-scan
        form of Särkkä and García-Fernández, whose ``O(log n)`` depth pays off on long
        series and on GPUs. Both give the same value to round-off.
    optimizer : {"lbfgs", "adam"}, default="lbfgs"
        MAP optimiser (full batch).
    maxiter : int, default=500
        Maximum number of optimiser iterations (L-BFGS-B iterations, or full-batch Adam
        steps).
    lr : float, default=None
        Adam's step size in the standardised variables (None means 1e-3); L-BFGS-B's
        steps come from its line search and ignore ``lr``.
    tol : float, default=1e-9
        Stopping tolerance on the per-observation objective (see above).
    pretrain_maxiter : int, default=500
        Maximum L-BFGS iterations of the pre-training of ``g_theta`` (PyTorch's L-BFGS
        with a strong-Wolfe line search).
    start_decay : "grid" or tuple of (float, float), default="grid"
        Svensson decays (1/years) of the start loadings: "grid" searches the pair that
        best fits the training curves (seed, section 4.1).
    warm_start : bool, default=False
        When the model is fitted, start the next ``fit``'s MAP optimisation from the
        previous estimates (network weights, ``F``, ``P``, ``Q``) instead of the
        pre-trained network and the two-step start values, which are then not computed.
        The maturities must be those of the previous fit. See **Warm starts** above.
    device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"
        Where the MAP optimisation runs. The fitted model is kept on the CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds the network's initial weights. With an int, two CPU fits are identical.
    verbose : int, default=0
        Log the objective every ``verbose`` evaluations (``logging``, logger
        ``"skyield.models"``); 0 logs nothing.
    factor_mean : bool, default=False
        Estimate the transition intercept ``c`` (flat prior), so that the factors revert
        to the mean ``(I - F)^{-1} c``; False keeps ``c = 0``, the seed's specification
        (eq. 3). The same parameter of :class:`~skyield.baselines.DynamicNelsonSiegel`
        and :class:`~skyield.baselines.GaussianLinearStateSpace` switches the same term.

    Attributes
    ----------
    maturities_ : ndarray of shape (n_maturities,)
        Maturities in years of the training panel.
    n_features_in_ : int
        Number of maturities.
    module_ : NeuralLoadings
        The fitted loading network (float64, on the CPU).
    loadings_ : ndarray of shape (n_maturities, n_factors)
        ``H_theta`` at the training maturities.
    transition_ : ndarray of shape (n_factors, n_factors)
        ``F``.
    intercept_ : ndarray of shape (n_factors,)
        ``c`` (zeros with ``factor_mean=False``).
    mean_ : ndarray of shape (n_factors,)
        ``(I - F)^{-1} c``, the mean the factors revert to (NaN where ``I - F`` is
        singular; zeros with ``factor_mean=False``).
    state_cov_ : ndarray of shape (n_factors, n_factors)
        ``P`` (diagonal).
    measurement_var_ : ndarray of shape (n_maturities,)
        Diagonal of ``Q``.
    initial_state_var_ : float
        Variance of every factor at the first date of a filtered panel (ten times the
        mean square of the training yields); the initial mean is zero.
    filtered_factors_ : DataFrame or ndarray of shape (n_dates, n_factors)
        ``E[beta_t | y_1..y_t]`` over the training panel (a DataFrame for DataFrame input).
    log_likelihood_ : float
        Log-likelihood of the training panel at the estimate.
    log_posterior_ : float
        Unnormalised log-posterior at the estimate.
    n_iter_ : int
        Optimiser iterations run.
    converged_ : bool
        Whether the optimiser's stopping rule was met.
    stop_message_ : str
        Why the optimiser stopped (scipy's message for L-BFGS-B).
    history_ : ndarray of shape (n_evaluations,)
        Objective (negative log-posterior per observed value) at every evaluation, the
        line search's included; ``inf`` where it could not be evaluated.
    start_ : dict
        Start values: ``decay`` (the Svensson pair), ``loadings``, ``transition``,
        ``intercept``, ``state_var``, ``measurement_var``, ``factors`` (two-step), and
        ``pretrain_mse``, the mean squared error of the pre-trained network; ``warm``,
        whether they are the previous fit's estimates (then ``factors`` and
        ``pretrain_mse`` are None and ``decay`` is the previous fit's).
    filter_state_ : dict
        Filtered state at the last date seen: ``mean`` (k,) and ``cov`` (k, k); moved on
        by :meth:`update`.
    columns_, last_date_, freq_, n_dates_seen_
        Panel bookkeeping of the shared sequence-model plumbing: the training column
        labels, the last date seen, the panel's frequency and the number of dates seen.

    References
    ----------
    Kauffmann, P. C., Takada, H. H., Terada, A. T. and Stern, J. M. (2022). Learning
    forecast-efficient yield curve factor decompositions with neural networks.
    Econometrics, 10(2), 15.
    Särkkä, S. and García-Fernández, Á. F. (2021). Temporal parallelization of Bayesian
    smoothers. IEEE Transactions on Automatic Control, 66(1), 299-306.

    Examples
    --------
    >>> from skyield.datasets import make_nelson_siegel_curves
    >>> from skyield.models import NeuralStateSpaceModel
    >>> curves = make_nelson_siegel_curves(n_dates=80, maturities=[0.25, 1, 2, 3, 5, 7],
    ...                                    random_state=0).curves
    >>> model = NeuralStateSpaceModel(n_factors=3, hidden_layers=(16, 16), maxiter=20,
    ...                               random_state=0).fit(curves)
    >>> model.transform(curves).shape
    (80, 3)
    >>> model.forecast(4, maturities=[0.5, 10.0]).shape
    (4, 2)
    >>> model.loadings([0.5, 10.0])[:, 0].tolist()
    [1.0, 1.0]
    """

    def __init__(self, *, n_factors=4, hidden_layers=(300, 300), activation="tanh",
                 output_activation="sigmoid", maturities=None, prior_a=0.1, prior_b=0.001,
                 prior_lambda=0.5, prior_gamma=0.9, prior_weight_var=0.05,
                 filter="sequential", optimizer="lbfgs", maxiter=500, lr=None, tol=1e-9,
                 pretrain_maxiter=500, start_decay="grid", warm_start=False, device="cpu",
                 random_state=None, verbose=0, factor_mean=False):
        self.n_factors = n_factors
        self.hidden_layers = hidden_layers
        self.activation = activation
        self.output_activation = output_activation
        self.maturities = maturities
        self.prior_a = prior_a
        self.prior_b = prior_b
        self.prior_lambda = prior_lambda
        self.prior_gamma = prior_gamma
        self.prior_weight_var = prior_weight_var
        self.filter = filter
        self.optimizer = optimizer
        self.maxiter = maxiter
        self.lr = lr
        self.tol = tol
        self.pretrain_maxiter = pretrain_maxiter
        self.start_decay = start_decay
        self.warm_start = warm_start
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.factor_mean = factor_mean

    # ------------------------------------------------------------------ checks
    # The filter skips missing values: NaN rows are dates without observations.
    _allow_missing = True

    _parameter_constraints = {
        "n_factors": [Interval(Integral, 1, None)],
        "hidden_layers": [Satisfies(_is_widths, "a tuple of positive integers")],
        "activation": [Options(*sorted(ACTIVATIONS))],
        "output_activation": [Options(*sorted(OUTPUT_ACTIVATIONS))],
        "maturities": [None, Options("uniform"), "array-like"],
        "prior_a": [Interval(Real, 0, None, closed="neither")],
        "prior_b": [Interval(Real, 0, None, closed="neither")],
        "prior_lambda": [Interval(Real, 0, None, closed="neither")],
        "prior_gamma": [Interval(Real, 0, 1, closed="neither")],
        "prior_weight_var": [Interval(Real, 0, None, closed="neither")],
        "filter": [Options(*sorted(FILTERS))],
        "optimizer": [Options(*_OPTIMIZERS)],
        "maxiter": [Interval(Integral, 1, None)],
        "lr": [None, Interval(Real, 0, None, closed="neither")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "pretrain_maxiter": [Interval(Integral, 1, None)],
        "start_decay": [Options("grid"),
                        Satisfies(_is_decay_pair, "a pair of distinct positive decays")],
        "warm_start": ["boolean"],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": [Interval(Integral, 0, None)],
        "factor_mean": ["boolean"],
    }

    def _priors(self):
        return Priors(a=float(self.prior_a), b=float(self.prior_b),
                      lam=float(self.prior_lambda), gamma=float(self.prior_gamma),
                      weight_var=float(self.prior_weight_var))

    def _check_model_panel(self, Y, name, min_length=1, maturities=None,
                           need_maturities=False):
        """Validate a panel, keeping its missing values (the filter skips them).

        Called by the shared sequence-model plumbing for ``fit``, ``transform`` and
        ``update``; a fitted model checks the maturities of a DataFrame's column labels
        against the fitted ones.
        """
        Y = self._panel_input(Y, name)
        fitted = hasattr(self, "maturities_")
        from_labels = isinstance(Y, pd.DataFrame) and self.maturities is None
        if fitted and not from_labels:
            maturities = self.maturities_
            n_series = Y.shape[1] if np.ndim(Y) == 2 else 1
            if n_series != self.maturities_.size:
                raise ValueError(
                    f"X has {n_series} features, but {type(self).__name__} is expecting "
                    f"{self.maturities_.size} features as input."
                )
        panel = check_panel(Y, name=name, missing="allow",
                            maturities=maturities if not fitted or not from_labels else None,
                            need_maturities=True)
        if fitted and from_labels and (panel.n_series != self.maturities_.size or not
                                       np.allclose(panel.maturities, self.maturities_)):
            raise ValueError(
                f"{name} has maturities {panel.maturities.tolist()} (from its column labels) "
                f"but the model was fitted on {self.maturities_.tolist()}"
            )
        if panel.n_dates < min_length:
            raise ValueError(
                f"{name} has {panel.n_dates} dates (n_samples={panel.n_dates}) but "
                f"{type(self).__name__} needs at least {min_length}"
            )
        return panel

    # ------------------------------------------------------------------ fitting
    def fit(self, Y, y=None):
        """Estimate the model on a panel of yield curves by MAP.

        Parameters
        ----------
        Y : DataFrame of shape (n_dates, n_maturities) or array-like
            Yields at consecutive dates (rows) and maturities (columns). A DataFrame's
            column labels give the maturities ("3M", "10Y" or numbers of years) unless
            ``maturities`` is set. NaN marks a missing value; it is skipped by the filter.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : NeuralStateSpaceModel
        """
        previous = self._previous_fit()
        # A refit reads the maturities afresh rather than checking them against a fit.
        self.__dict__.pop("maturities_", None)
        panel = self._validate_fit_panel(Y, maturities=self.maturities, need_maturities=True)
        widths = tuple(int(w) for w in self.hidden_layers)
        values, tau = panel.values, panel.maturities
        n_dates, M = values.shape
        k = int(self.n_factors)
        if M < k:
            raise ValueError(
                f"NeuralStateSpaceModel(n_factors={k}) needs at least {k} maturities; Y has "
                f"{M} feature(s) (n_features={M})"
            )
        if n_dates < k + 2:
            raise ValueError(
                f"NeuralStateSpaceModel(n_factors={k}) needs at least {k + 2} dates; Y has "
                f"{n_dates} sample(s) (n_samples={n_dates})"
            )
        empty = np.flatnonzero(np.all(np.isnan(values), axis=0))
        if empty.size:
            raise ValueError(
                f"Y column {panel.columns[empty[0]]!r} has no observed value; its "
                f"measurement variance cannot be estimated (drop that maturity)"
            )
        initial_var = _DIFFUSE_SCALE * max(float(np.nanmean(values**2)), np.finfo(float).tiny)
        if previous is None:
            decays = resolve_start_decay(self.start_decay, values, tau)
            start = two_step_start(values, tau, k, decays, self._priors(),
                                   intercept=self.factor_mean)
        else:
            decays, start = self._warm_start_values(previous, tau, k)
        device = resolve_device(self.device)
        with torch_seed(self.random_state, device):
            module = NeuralLoadings(
                k, widths, self.activation, self.output_activation,
                maturity_scale=float(tau.max()) if tau.max() > 0 else 1.0,
            ).to(device=device, dtype=torch.float64)
            if previous is None:
                pretrain_mse = self._pretrain(module, tau, decays, k, device)
            else:
                load_previous_weights(module, previous.module_.state_dict(),
                                      type(self).__name__)
                pretrain_mse = None
            result = self._map(module, values, tau, start, initial_var, device)

        self.maturities_ = tau
        self.module_ = module.cpu().eval()
        for p in self.module_.parameters():
            p.requires_grad_(False)
        self.transition_ = result["F"]
        self.intercept_ = result["c"]
        self.mean_ = mean_from_intercept(self.intercept_, self.transition_) \
            if self.factor_mean else np.zeros(k)
        self.state_cov_ = np.diag(result["P"])
        self.measurement_var_ = result["Q"]
        self.initial_state_var_ = initial_var
        self.loadings_ = self.loadings(tau)
        self.log_likelihood_ = result["log_lik"]
        self.log_posterior_ = result["log_post"]
        self.n_iter_ = result["n_iter"]
        self.converged_ = result["converged"]
        self.stop_message_ = result["message"]
        self.history_ = np.asarray(result["history"])
        self.start_ = {"decay": decays, "pretrain_mse": pretrain_mse,
                       "warm": previous is not None, **start}
        filtered = self._filter(values)
        mean = filtered.filtered_state.numpy()
        self.filtered_factors_ = self._factor_output(mean, panel.index)
        self.filter_state_ = {"mean": mean[-1].copy(),
                              "cov": filtered.filtered_cov[-1].numpy().copy()}
        return self

    def _previous_fit(self):
        """The fitted model to warm-start from (a shallow copy), or None."""
        if not self.warm_start or not hasattr(self, "module_"):
            return None
        return copy.copy(self)

    @staticmethod
    def _warm_start_values(previous, tau, k):
        """Decays and start values of a warm start: the previous fit's estimates."""
        if previous.maturities_.shape != tau.shape or \
                not np.allclose(previous.maturities_, tau):
            raise ValueError(
                f"NeuralStateSpaceModel(warm_start=True) starts from the previous fit, "
                f"which has maturities {previous.maturities_.tolist()}; Y has "
                f"{tau.tolist()}: fit with warm_start=False"
            )
        if previous.transition_.shape[0] != k:
            raise ValueError(
                f"NeuralStateSpaceModel(warm_start=True) starts from the previous fit, "
                f"which has {previous.transition_.shape[0]} factors, not n_factors={k}: "
                f"fit with warm_start=False"
            )
        start = {"loadings": previous.loadings_, "transition": previous.transition_,
                 "intercept": previous.intercept_.copy(),
                 "state_var": np.diag(previous.state_cov_).copy(),
                 "measurement_var": previous.measurement_var_, "factors": None}
        return previous.start_["decay"], start

    def _pretrain(self, module, tau, decays, k, device):
        """Fit ``g_theta`` to the start loadings on a maturity grid (penalised least squares).

        The loadings are read as observed with Gaussian errors of standard deviation
        ``_PRETRAIN_SD`` under the model's prior on the weights, so the start network is
        one the prior does not penalise heavily; unpenalised least squares reaches weights
        whose prior cost dwarfs the likelihood, and the first MAP iterations then trade
        the fit of the loadings for weight shrinkage.
        """
        if k == 1:
            return 0.0
        grid = np.linspace(0.0, _PRETRAIN_SPAN * float(tau.max()), _PRETRAIN_POINTS)
        target = torch.tensor(start_loadings(grid, k, decays)[:, 1:], device=device)
        grid_t = torch.tensor(grid, device=device)
        weights = list(module.parameters())
        scale = 2.0 * _PRETRAIN_SD**2 * target.numel()
        optimizer = torch.optim.LBFGS(
            weights, lr=1.0, max_iter=int(self.pretrain_maxiter),
            max_eval=2 * int(self.pretrain_maxiter), tolerance_grad=1e-12,
            tolerance_change=1e-14, history_size=50, line_search_fn="strong_wolfe",
        )

        def closure():
            optimizer.zero_grad()
            squared = torch.sum((module(grid_t)[:, 1:] - target) ** 2)
            penalty = sum(torch.sum(w**2) for w in weights) / (2.0 * float(self.prior_weight_var))
            loss = (squared / (2.0 * _PRETRAIN_SD**2) + penalty) / scale
            loss.backward()
            return loss

        optimizer.step(closure)
        with torch.no_grad():
            mse = float(torch.mean((module(grid_t)[:, 1:] - target) ** 2))
        logger.info("NeuralStateSpaceModel: pre-training mean squared error %.3g", mse)
        return mse

    def _map(self, module, values, tau, start, initial_var, device):
        """MAP estimation of (theta, F, P, Q); returns CPU numpy estimates."""
        y = torch.tensor(values, device=device)
        tau_t = torch.tensor(tau, device=device)
        n_obs = int(np.sum(~np.isnan(values)))
        priors = self._priors()
        # Standardised variables: theta = sigma_NN * vartheta, F = I + lambda * Phi and
        # log P = u / sqrt(a + 1) have priors of unit curvature whatever the
        # hyper-parameters, which keeps the optimiser well conditioned when they are tight.
        w_scale, f_scale = float(np.sqrt(priors.weight_var)), priors.lam
        p_scale = 1.0 / float(np.sqrt(priors.a + 1.0))
        k = start["transition"].shape[0]
        eye = torch.eye(k, dtype=torch.float64, device=device)
        names = [name for name, _ in module.named_parameters()]
        raw = [(p.detach() / w_scale).clone().requires_grad_(True) for p in module.parameters()]
        phi = ((torch.tensor(np.ascontiguousarray(start["transition"]), device=device) - eye)
               / f_scale).requires_grad_(True)
        u_p = torch.tensor(np.log(start["state_var"]) / p_scale, device=device,
                           requires_grad=True)
        log_q = torch.tensor(np.log(start["measurement_var"]), device=device, requires_grad=True)
        # The intercept moves in units of the state shocks' size at the start.
        c_scale = float(np.sqrt(np.mean(start["state_var"])))
        c_raw = torch.tensor(start["intercept"] / c_scale, device=device,
                             requires_grad=bool(self.factor_mean))
        # L-BFGS-B reads the bounded log variances as the last two parameter blocks.
        params = raw + [phi] + ([c_raw] if self.factor_mean else []) + [u_p, log_q]
        history = []

        def objective():
            weights = [w_scale * r for r in raw]
            loadings = torch.func.functional_call(module, dict(zip(names, weights)), (tau_t,))
            intercept = c_scale * c_raw if self.factor_mean else None
            log_post, log_lik = log_posterior(y, loadings, weights, eye + f_scale * phi,
                                              (p_scale * u_p).exp(), log_q.exp(), priors,
                                              initial_var, self.filter, intercept)
            return -log_post / n_obs, log_post, log_lik

        def evaluate():
            """Objective and gradients at the current values; None where undefined."""
            for p in params:
                p.grad = None
            try:
                loss, _, _ = objective()
                if not bool(torch.isfinite(loss)):
                    return None
                loss.backward()
            except (ValueError, torch.linalg.LinAlgError):
                # The filter breaks down at extreme trial points (a singular update).
                return None
            if not all(bool(torch.isfinite(p.grad).all()) for p in params):
                return None
            return loss.item()

        def record(value):
            if value is None and not history:
                raise FloatingPointError(
                    "NeuralStateSpaceModel: the log-posterior is not finite at the start "
                    "values; check the data for extreme values"
                )
            history.append(np.inf if value is None else value)
            if self.verbose and len(history) % self.verbose == 0:
                logger.info("NeuralStateSpaceModel: evaluation %d, objective %.10g",
                            len(history), history[-1])

        maxiter, tol = int(self.maxiter), float(self.tol)
        scale = float(np.nanmean(np.nanvar(values, axis=0)))
        scale = scale if np.isfinite(scale) and scale > 0 else 1.0
        bounds = {
            "state": tuple(np.log(np.array(_STATE_VAR_BOUNDS) * scale) / p_scale),
            "measurement": tuple(np.log(np.array(_MEASUREMENT_VAR_BOUNDS) * scale)),
        }
        if self.optimizer == "lbfgs":
            n_iter, converged, message = self._lbfgs(params, evaluate, record, bounds,
                                                     maxiter, tol, device)
        else:
            lr = _DEFAULT_LR["adam"] if self.lr is None else float(self.lr)
            optimizer = torch.optim.Adam(params, lr=lr)
            n_iter, converged, message = 0, False, "the iteration limit was reached"
            for n_iter in range(1, maxiter + 1):
                value = evaluate()
                record(value)
                if value is None:
                    raise FloatingPointError(
                        "NeuralStateSpaceModel: the log-posterior became undefined during "
                        f"Adam's iterations (lr={lr}); lower lr"
                    )
                optimizer.step()
                with torch.no_grad():  # projection on the bounds of L-BFGS-B
                    u_p.clamp_(*bounds["state"])
                    log_q.clamp_(*bounds["measurement"])
                if len(history) > _ADAM_WINDOW and \
                        min(history[:-_ADAM_WINDOW]) - min(history[-_ADAM_WINDOW:]) < tol:
                    converged, message = True, "the objective stopped improving"
                    break
        with torch.no_grad():
            loss, log_post, log_lik = objective()
        if not bool(torch.isfinite(loss)):
            raise FloatingPointError(
                "NeuralStateSpaceModel: the log-posterior is not finite at the end of the "
                f"optimisation (optimizer={self.optimizer!r})"
            )
        if not converged:
            warnings.warn(
                f"NeuralStateSpaceModel: the {self.optimizer} optimiser stopped after "
                f"{n_iter} iterations (maxiter={maxiter}) before meeting tol={tol}: {message}. "
                "The estimates are those of the last iteration; increase maxiter.",
                ConvergenceWarning, stacklevel=3,
            )
        with torch.no_grad():
            for p, r in zip(module.parameters(), raw):
                p.copy_(w_scale * r)
        return {
            "F": (eye + f_scale * phi).detach().cpu().numpy().copy(),
            "c": (c_scale * c_raw).detach().cpu().numpy().copy(),
            "P": (p_scale * u_p).detach().exp().cpu().numpy().copy(),
            "Q": log_q.detach().exp().cpu().numpy().copy(),
            "log_lik": float(log_lik), "log_post": float(log_post),
            "n_iter": int(n_iter), "converged": bool(converged), "message": message,
            "history": history,
        }

    @staticmethod
    def _lbfgs(params, evaluate, record, bounds, maxiter, tol, device):
        """scipy's L-BFGS-B over the flattened parameters, gradients from autograd.

        ``params`` ends with the standardised log state variances and the log measurement
        variances, which ``bounds`` constrain.
        """
        from scipy.optimize import minimize

        sizes = [p.numel() for p in params]
        x0 = torch.cat([p.detach().reshape(-1) for p in params]).cpu().numpy()
        k, M = sizes[-2], sizes[-1]
        box = [(None, None)] * (x0.size - k - M) + [bounds["state"]] * k \
            + [bounds["measurement"]] * M
        x0 = np.clip(x0, [b[0] if b[0] is not None else -np.inf for b in box],
                     [b[1] if b[1] is not None else np.inf for b in box])

        def fun(x):
            with torch.no_grad():
                for p, chunk in zip(params, torch.split(torch.as_tensor(x, device=device), sizes)):
                    p.copy_(chunk.reshape(p.shape))
            value = evaluate()
            record(value)
            if value is None:
                # A large finite value makes the line search step back.
                return _FAILED_OBJECTIVE, np.zeros_like(x)
            grad = torch.cat([p.grad.reshape(-1) for p in params]).cpu().numpy()
            return value, grad

        n_iter, restarts, x, start_value = 0, 0, x0, None
        while True:
            remaining = maxiter - n_iter
            result = minimize(fun, x, jac=True, method="L-BFGS-B", bounds=box,
                              options={"maxiter": remaining,
                                       "maxfun": _MAXFUN_PER_ITER * remaining,
                                       "ftol": tol, "gtol": _GTOL, "maxcor": 20})
            n_iter += result.nit
            x = result.x
            # A line search that fails (round-off in the filter makes the objective a
            # little noisy along flat directions) ends scipy's run; it restarts from its
            # last point with a fresh curvature memory as long as that makes progress.
            if result.status != 2 or n_iter >= maxiter:
                break
            if start_value is not None and \
                    start_value - result.fun <= tol * max(1.0, abs(result.fun)):
                break
            start_value = result.fun
            restarts += 1
        with torch.no_grad():
            for p, chunk in zip(params, torch.split(torch.as_tensor(x, device=device), sizes)):
                p.copy_(chunk.reshape(p.shape))
        message = str(result.message) + (f" (after {restarts} restarts)" if restarts else "")
        return n_iter, bool(result.success), message

    # ------------------------------------------------------------------ filtering
    def _filter(self, values, a0=None, P0=None):
        k = self.transition_.shape[0]
        if a0 is None:
            a0, P0 = np.zeros(k), self.initial_state_var_ * np.eye(k)
        # Copies: panels read from DataFrames may be read-only views.
        return FILTERS["sequential"](torch.tensor(values), torch.tensor(self.loadings_),
                                     torch.tensor(self.transition_),
                                     torch.tensor(np.diag(self.measurement_var_)),
                                     torch.tensor(self.state_cov_), a0=torch.tensor(a0),
                                     P0=torch.tensor(P0), c=torch.tensor(self.intercept_),
                                     init="known")

    def _factor_output(self, factors, index):
        if index is None:
            return factors
        names = [f"factor_{i}" for i in range(factors.shape[1])]
        return pd.DataFrame(factors, index=index, columns=names)

    def loadings(self, maturities=None):
        """Factor loadings ``g_theta(m)`` at any maturities.

        Parameters
        ----------
        maturities : array-like of shape (n,), default=None
            Maturities in years; None gives the training maturities.

        Returns
        -------
        loadings : ndarray of shape (n, n_factors)
            Column 0 is identically 1.
        """
        check_is_fitted(self, "module_")
        tau = self.maturities_ if maturities is None else self._check_new_maturities(maturities)
        with torch.no_grad():
            return self.module_(torch.as_tensor(tau, dtype=torch.float64)).numpy()

    @staticmethod
    def _check_new_maturities(maturities):
        tau = np.atleast_1d(np.asarray(maturities, dtype=float))
        if tau.ndim != 1 or tau.size == 0 or not np.all(np.isfinite(tau)) or np.any(tau < 0):
            raise ValueError(
                "maturities must be finite non-negative years, got "
                f"{np.asarray(maturities).tolist()}"
            )
        return tau

    def transform(self, Y, smooth=False):
        """Factors per date of a panel, with the fitted parameters frozen.

        The filter starts from the initial state prior ``N(0, initial_state_var_ I)`` at
        the panel's first date, so ``transform`` of the training panel gives
        ``filtered_factors_``.

        Parameters
        ----------
        Y : DataFrame of shape (n_dates, n_maturities) or array-like
            A panel with the fitted maturities; NaN where missing.
        smooth : bool, default=False
            Smoothed ``E[beta_t | y_1..y_n]`` instead of filtered ``E[beta_t | y_1..y_t]``.

        Returns
        -------
        factors : DataFrame or ndarray of shape (n_dates, n_factors)
            A DataFrame indexed like ``Y`` when ``Y`` is one.
        """
        check_is_fitted(self)
        panel = self._validate_panel(Y)
        result = self._filter(panel.values)
        if smooth:
            factors = smooth_filtered(result).smoothed_state.numpy()
        else:
            factors = result.filtered_state.numpy()
        return self._factor_output(factors, panel.index)

    def log_likelihood(self, Y):
        """Gaussian log-likelihood of a panel under the fitted parameters.

        Parameters
        ----------
        Y : DataFrame of shape (n_dates, n_maturities) or array-like
            A panel with the fitted maturities; NaN entries are left out.

        Returns
        -------
        log_likelihood : float
            Log-density of the observed values, the first state from
            ``N(0, initial_state_var_ I)``.
        """
        check_is_fitted(self)
        panel = self._validate_panel(Y)
        return float(self._filter(panel.values).loglike)

    def _update(self, values):
        """Filter new dates from the state at the last date seen (shared ``update``)."""
        F, P = self.transition_, self.state_cov_
        stored = self.filter_state_
        a0 = self.intercept_ + F @ stored["mean"]
        P0 = F @ stored["cov"] @ F.T + P
        result = self._filter(values, a0=a0, P0=0.5 * (P0 + P0.T))
        self.filter_state_ = {"mean": result.filtered_state[-1].numpy().copy(),
                              "cov": result.filtered_cov[-1].numpy().copy()}

    # ------------------------------------------------------------------ forecasting
    def _measurement_var_at(self, tau):
        """Measurement variances at ``tau``: fitted ones, else interpolated in logs."""
        return np.exp(np.interp(tau, self.maturities_, np.log(self.measurement_var_)))

    def _observation(self, maturities):
        """Loadings, measurement variances and column labels at ``maturities``."""
        if maturities is None:
            return self.loadings_, self.measurement_var_, self.columns_
        tau = self._check_new_maturities(maturities)
        return self.loadings(tau), self._measurement_var_at(tau), tau.tolist()

    def _forecast_moments(self, steps, maturities=None):
        """Mean and standard deviation (steps, n) of the curves 1 .. steps ahead."""
        H, q, _ = self._observation(maturities)
        F, P = self.transition_, self.state_cov_
        mean, cov = self.filter_state_["mean"], self.filter_state_["cov"]
        means, sds = [], []
        for _ in range(steps):
            mean = self.intercept_ + F @ mean
            cov = F @ cov @ F.T + P
            means.append(H @ mean)
            sds.append(np.sqrt(np.einsum("ij,jk,ik->i", H, cov, H) + q))
        return np.stack(means), np.stack(sds)

    def forecast(self, steps=1, *, quantiles=None, coverage=None, maturities=None):
        """Forecasts ``H E[beta_{t+h} | y_1..y_t]``, h = 1 .. steps, from the last date seen.

        Parameters
        ----------
        steps : int, default=1
            Forecast horizon.
        quantiles : array-like of shape (n_quantiles,), default=None
            Return these Gaussian quantiles instead of the mean.
        coverage : float, default=None
            Return the central Gaussian interval of this coverage instead of the mean.
        maturities : array-like of shape (n,), default=None
            Maturities in years to forecast, observed in ``fit`` or not; None gives the
            fitted ones.

        Returns
        -------
        forecast : DataFrame of shape (steps, n_maturities), or ndarray
            The mean, indexed by the future dates when the panel's dates have a regular
            frequency (else by ``1 .. steps``), with the training panel's column labels
            or the given maturities; with ``quantiles`` an ndarray of shape
            (steps, n_maturities, n_quantiles); with ``coverage`` one of shape
            (steps, n_maturities, 2).
        """
        check_is_fitted(self)
        _, _, columns = self._observation(maturities)
        return self._forecast(steps, quantiles, coverage, columns=columns,
                              maturities=maturities)

    def sample_paths(self, n_paths, steps, random_state=None, maturities=None):
        """Simulate future curves from the last date seen.

        The state at the last date is drawn from its filtered distribution, then moved
        on by ``beta_{t+1} = c + F beta_t + w``; each curve adds measurement noise.

        Parameters
        ----------
        n_paths : int
        steps : int
        random_state : int, RandomState instance or None, default=None
        maturities : array-like of shape (n,), default=None

        Returns
        -------
        paths : ndarray of shape (n_paths, steps, n_maturities)
        """
        check_is_fitted(self)
        n_paths = check_param(n_paths, "n_paths", [Interval(Integral, 1, None)])
        steps = check_param(steps, "steps", [Interval(Integral, 1, None)])
        H, q, _ = self._observation(maturities)
        rng = check_random_state(random_state)
        k = self.transition_.shape[0]
        root = covariance_factor(self.filter_state_["cov"])
        state = self.filter_state_["mean"] + rng.standard_normal((n_paths, k)) @ root.T
        state_sd = np.sqrt(np.diag(self.state_cov_))
        paths = np.empty((n_paths, steps, H.shape[0]))
        for h in range(steps):
            state = self.intercept_ + state @ self.transition_.T \
                + rng.standard_normal((n_paths, k)) * state_sd
            paths[:, h] = state @ H.T + rng.standard_normal((n_paths, H.shape[0])) * np.sqrt(q)
        return paths

    # ------------------------------------------------------------------ checks
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.non_deterministic = False
        return tags

    @classmethod
    def get_test_params(cls):
        """Tiny configurations for the common estimator checks.

        Returns
        -------
        params : list of dict
        """
        return [
            {"n_factors": 2, "hidden_layers": (4,), "maturities": "uniform",
             "start_decay": (1.0, 0.3), "maxiter": 2, "pretrain_maxiter": 2,
             "random_state": 0},
            {"n_factors": 2, "hidden_layers": (4, 4), "maturities": "uniform",
             "start_decay": (1.0, 0.3), "maxiter": 2, "pretrain_maxiter": 2,
             "filter": "parallel", "optimizer": "adam", "factor_mean": True,
             "random_state": 0},
        ]
