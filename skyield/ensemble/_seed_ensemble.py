"""Seed ensembles: averaging ensembles of quantile models and Gaussian deep ensembles."""

from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from scipy.stats import norm
from sklearn.base import clone
from sklearn.metrics import r2_score
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from skyield.base import (
    DEFAULT_COVERAGE,
    DEFAULT_QUANTILES,
    BaseFamilyWindowRegressor,
    accepts_families,
    interval_levels,
)
from skyield.ensemble._batched import fit_batched
from skyield.utils import (
    HasMethods,
    Interval,
    Options,
    check_increasing_levels,
    validate_params,
)

__all__ = ["SeedEnsemble"]

_COMBINES = ("auto", "average", "mixture")


def _estimator_has(method):
    def check(self):
        target = self.estimators_[0] if hasattr(self, "estimators_") else self.estimator
        return hasattr(target, method)
    return check


def _is_mixture(self):
    if hasattr(self, "combine_"):
        return self.combine_ == "mixture"
    return self.combine == "mixture" or (
        self.combine == "auto" and hasattr(self.estimator, "predict_std"))


def seeded_members(ensemble, seeds):
    """The members a seed ensemble fits: new clones of its estimator, one per seed; or,
    with ``warm_start`` once fitted, its fitted members set to refit from their previous
    fits with the estimator's current parameters (same seeds)."""
    if not (ensemble.warm_start and hasattr(ensemble, "estimators_")):
        return [clone(ensemble.estimator).set_params(random_state=int(seed)) for seed in seeds]
    owner = type(ensemble).__name__
    params = ensemble.estimator.get_params(deep=False)
    if "warm_start" not in params:
        raise ValueError(
            f"{owner}(warm_start=True) refits its members from their previous fits, but "
            f"{type(ensemble.estimator).__name__} has no warm_start parameter"
        )
    if len(ensemble.estimators_) != len(seeds):
        raise ValueError(
            f"{owner}(warm_start=True) has {len(ensemble.estimators_)} fitted members, not "
            f"n_estimators={len(seeds)}: fit with warm_start=False"
        )
    return [member.set_params(**{**params, "random_state": int(seed), "warm_start": True})
            for member, seed in zip(ensemble.estimators_, seeds)]


def _fit_member(member, X, y, fit_params):
    return member.fit(X, y, **fit_params)


class SeedEnsemble(BaseFamilyWindowRegressor):
    """Members of one model trained with different seeds, their forecasts combined.

    Each member is a clone of ``estimator`` with its own ``random_state`` (drawn from
    ``random_state``), so members differ in initial weights, batch order and dropout
    masks. Two ways of combining them:

    - ``"average"`` (the averaging ensemble of section 5 of the seed): the central
      forecast, every quantile and both interval bounds are the means over members.
      Averages of non-decreasing quantile sequences are non-decreasing, and the mean
      interval width of the ensemble equals the mean of the members' (appendix A.2).
    - ``"mixture"`` (the deep ensemble of section 6.1, for members with Gaussian heads):
      the forecast is the equally weighted mixture of the members' Gaussians,
      approximated by a Gaussian with the mixture's mean ``mean_k(mu_k)`` and variance
      ``mean_k(sigma_k^2 + mu_k^2) - mean^2``; quantiles and intervals come from it.

    Members are fitted in parallel through joblib (``n_jobs``; a Dask or Ray joblib
    backend spreads them over a cluster with ``joblib.parallel_config``), or, with
    ``batched=True``, trained together as one batched model (see
    :func:`skyield.ensemble._batched.fit_batched`), which for small networks costs far
    less than ``n_estimators`` separate fits.

    Parameters
    ----------
    estimator : estimator
        The model; it must have a ``random_state`` parameter. For quantile forecasts it
        needs ``predict_quantiles`` / ``predict_interval``; for ``"mixture"``
        ``predict_std``.
    n_estimators : int, default=10
        Number of members.
    combine : {"auto", "average", "mixture"}, default="auto"
        How forecasts are combined; ``"auto"`` is ``"mixture"`` when the members have
        ``predict_std`` (Gaussian heads) and ``"average"`` otherwise.
    batched : bool, default=False
        Train the members as one batched model (estimators with skyield's batched
        training hooks: YieldCurveAttentionRegressor, TransferredCurveRegressor).
        ``n_jobs`` is then unused.
    n_jobs : int, default=None
        Members fitted in parallel by joblib (None: 1 unless in a
        ``joblib.parallel_config`` context).
    warm_start : bool, default=False
        When the ensemble is fitted, refit each member from its own previous fit (the
        members' ``warm_start=True``, same seeds) instead of new clones, with the
        current parameters of ``estimator`` (e.g. fewer ``epochs``): a warm-started refit
        of the whole ensemble. ``estimator`` must have a ``warm_start`` parameter and
        ``n_estimators`` must not change.
    random_state : int, RandomState instance or None, default=None
        Draws the members' seeds (and, with ``batched=True``, seeds the dropout masks).
        A fixed value gives bit-identical members on the CPU.

    Attributes
    ----------
    estimators_ : list of estimator
        The fitted members.
    seeds_ : ndarray of shape (n_estimators,)
        The members' ``random_state`` values.
    combine_ : {"average", "mixture"}
        The combination used.
    n_features_in_ : int
        Number of features seen in ``fit`` (when the members record it).

    References
    ----------
    Richman, R. and Scognamiglio, S. (2024). Multiple yield curve modeling and
    forecasting using deep learning. ASTIN Bulletin 54(3), 463-494: section 5 and
    appendix A.2 (averaging ensembles), section 6.1 (deep ensembles).
    Lakshminarayanan, B., Pritzel, A. and Blundell, C. (2017). Simple and scalable
    predictive uncertainty estimation using deep ensembles. NeurIPS.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.ensemble import SeedEnsemble
    >>> from skyield.models import YieldCurveAttentionRegressor
    >>> rng = np.random.RandomState(0)
    >>> curves = 2.0 + 0.1 * rng.normal(size=(60, 3)).cumsum(axis=0)
    >>> X = np.stack([curves[i:i + 4] for i in range(55)])
    >>> y = curves[4:59]
    >>> base = YieldCurveAttentionRegressor(units=4, epochs=2)
    >>> ensemble = SeedEnsemble(base, n_estimators=3, random_state=0).fit(X, y)
    >>> members = np.stack([m.predict_interval(X) for m in ensemble.estimators_])
    >>> width = lambda b: np.mean(b[..., 1] - b[..., 0])
    >>> bool(np.isclose(width(ensemble.predict_interval(X)),
    ...                 np.mean([width(b) for b in members])))
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods("fit", "predict")],
        "n_estimators": [Interval(Integral, 1, None)],
        "combine": [Options(*_COMBINES)],
        "batched": ["boolean"],
        "n_jobs": [None, Integral],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator, *, n_estimators=10, combine="auto", batched=False,
                 n_jobs=None, warm_start=False, random_state=None):
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.combine = combine
        self.batched = batched
        self.n_jobs = n_jobs
        self.warm_start = warm_start
        self.random_state = random_state

    def _check_params(self):
        validate_params(self)
        if "random_state" not in self.estimator.get_params(deep=False):
            raise ValueError(
                f"SeedEnsemble varies random_state, which {type(self.estimator).__name__} "
                f"does not have"
            )
        combine = self.combine
        has_std = hasattr(self.estimator, "predict_std")
        if combine == "auto":
            combine = "mixture" if has_std else "average"
        elif combine == "mixture" and not has_std:
            raise ValueError(
                f"combine='mixture' needs members with predict_std (Gaussian heads, e.g. "
                f"distribution='gaussian'); {type(self.estimator).__name__} has none"
            )
        return combine

    def fit(self, X, y, families=None):
        """Fit ``n_estimators`` clones of ``estimator`` with different seeds.

        Parameters
        ----------
        X : array-like
            Training input, as for ``estimator.fit``.
        y : array-like
            Targets, as for ``estimator.fit``.
        families : array-like of shape (n_samples,), default=None
            Curve family of each sample, passed to the members' ``fit`` when given and
            when they take it (a model without ``families`` pools the families, as
            :func:`skyield.model_selection.backtest` does with it).

        Returns
        -------
        self : object
            The fitted ensemble.
        """
        combine = self._check_params()
        if not accepts_families(self.estimator.fit):
            families = None
        rng = check_random_state(self.random_state)
        seeds = rng.randint(np.iinfo(np.int32).max, size=self.n_estimators)
        members = seeded_members(self, seeds)
        fit_params = {} if families is None else {"families": families}
        if self.batched:
            dropout_seed = int(rng.randint(np.iinfo(np.int32).max))
            members = fit_batched(members, X, y, families=families,
                                  random_state=dropout_seed)
        else:
            members = Parallel(n_jobs=self.n_jobs)(
                delayed(_fit_member)(member, X, y, fit_params) for member in members
            )
        self.estimators_ = list(members)
        self.seeds_ = seeds
        self.combine_ = combine
        if hasattr(self.estimators_[0], "n_features_in_"):
            self.n_features_in_ = self.estimators_[0].n_features_in_
        return self

    def _collect(self, method, X, families, **kwargs):
        check_is_fitted(self)
        if families is not None and accepts_families(getattr(self.estimators_[0], method)):
            kwargs["families"] = families
        return np.stack([getattr(member, method)(X, **kwargs) for member in self.estimators_])

    def _moments(self, X, families):
        means = self._collect("predict", X, families)
        stds = self._collect("predict_std", X, families)
        mean = means.mean(axis=0)
        variance = (stds ** 2 + means ** 2).mean(axis=0) - mean ** 2
        return mean, np.sqrt(np.maximum(variance, 0.0))

    def predict(self, X, families=None):
        """Mean of the members' central forecasts (the mixture mean for Gaussian members).

        Parameters
        ----------
        X : array-like
            Input, as for the members' ``predict``.
        families : array-like of shape (n_samples,), default=None
            Family of each sample, passed on when given.

        Returns
        -------
        y_pred : ndarray
            In the members' layout.
        """
        return self._collect("predict", X, families).mean(axis=0)

    @available_if(_is_mixture)
    def predict_std(self, X, families=None):
        """Standard deviation of the mixture of the members' Gaussians.

        ``sqrt(mean_k(sigma_k^2 + mu_k^2) - mean_k(mu_k)^2)``.

        Parameters
        ----------
        X : array-like
            Input, as for the members' ``predict``.
        families : array-like of shape (n_samples,), default=None
            Family of each sample, passed on when given.

        Returns
        -------
        y_std : ndarray
            In the layout of :meth:`predict`.
        """
        return self._moments(X, families)[1]

    @available_if(_estimator_has("predict_quantiles"))
    def predict_quantiles(self, X, quantiles=DEFAULT_QUANTILES, families=None):
        """Quantile forecasts: mean of the members' quantiles, or mixture quantiles.

        Parameters
        ----------
        X : array-like
            Input, as for the members' ``predict``.
        quantiles : array-like of shape (n_quantiles,), default=(0.025, 0.5, 0.975)
            Strictly increasing levels inside (0, 1).
        families : array-like of shape (n_samples,), default=None
            Family of each sample, passed on when given.

        Returns
        -------
        y_quantiles : ndarray
            The layout of :meth:`predict` with a last axis of length ``n_quantiles``.
        """
        check_is_fitted(self)
        levels = check_increasing_levels(quantiles)
        if self.combine_ == "mixture":
            mean, std = self._moments(X, families)
            return mean[..., None] + std[..., None] * norm.ppf(levels)
        return self._collect("predict_quantiles", X, families,
                             quantiles=levels).mean(axis=0)

    @available_if(_estimator_has("predict_interval"))
    def predict_interval(self, X, coverage=DEFAULT_COVERAGE, families=None):
        """Prediction intervals: mean of the members' bounds, or of the mixture.

        Parameters
        ----------
        X : array-like
            Input, as for the members' ``predict``.
        coverage : float, default=0.95
            Nominal coverage strictly inside (0, 1).
        families : array-like of shape (n_samples,), default=None
            Family of each sample, passed on when given.

        Returns
        -------
        y_interval : ndarray
            The layout of :meth:`predict` with a last axis (lower, upper).
        """
        check_is_fitted(self)
        levels = interval_levels(coverage)
        if self.combine_ == "mixture":
            return self.predict_quantiles(X, levels, families=families)
        return self._collect("predict_interval", X, families,
                             coverage=coverage).mean(axis=0)

    @available_if(_estimator_has("get_attention"))
    def get_attention(self, X, families=None):
        """Attention weights averaged over the members.

        Each member's weights are a convex combination over the same positions, so their
        mean is one too (rows still sum to one).

        Parameters
        ----------
        X : array-like
            Input, as for the members' ``get_attention``.
        families : array-like of shape (n_samples,), default=None
            Family of each sample, passed on when given.

        Returns
        -------
        attention : ndarray
            In the members' layout.
        """
        return self._collect("get_attention", X, families).mean(axis=0)

    def score(self, X, y, sample_weight=None, families=None):
        """R^2 of :meth:`predict` over all outputs (uniform average).

        Parameters
        ----------
        X : array-like
            Input, as for the members' ``predict``.
        y : array-like
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        families : array-like of shape (n_samples,), default=None
            Family of each sample, passed on when given.

        Returns
        -------
        score : float
        """
        y_pred = self.predict(X, families=families)
        n_samples = y_pred.shape[0]
        return r2_score(np.reshape(y, (n_samples, -1)), y_pred.reshape(n_samples, -1),
                        sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.input_tags = inner.input_tags
        tags.target_tags.multi_output = inner.target_tags.multi_output
        tags.regressor_tags.poor_score = inner.regressor_tags is not None and \
            inner.regressor_tags.poor_score
        return tags

    @classmethod
    def get_test_params(cls):
        """Tiny configurations for the common estimator checks.

        Returns
        -------
        params : list of dict
        """
        from skyield.models import YieldCurveAttentionRegressor

        tiny = YieldCurveAttentionRegressor(window=1, units=4, embedding_size=2, epochs=2)
        return [
            {"estimator": tiny, "n_estimators": 2, "random_state": 0},
            {"estimator": tiny, "n_estimators": 2, "batched": True, "random_state": 0},
        ]
