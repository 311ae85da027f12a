"""Seed ensembles of sequence models: the members' forecasts as one distribution."""

from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from scipy.stats import norm
from sklearn.utils import check_random_state

from skyield.base import BaseSequenceModel
from skyield.ensemble._seed_ensemble import seeded_members
from skyield.ensemble._sequence_members import MemberSequenceModel, check_sequence_member
from skyield.utils import HasMethods, Interval, Options

__all__ = ["SequenceSeedEnsemble"]


def _has_moments(estimator):
    return type(estimator)._forecast_moments is not BaseSequenceModel._forecast_moments


def _fit_member(member, Y):
    return member.fit(Y)


class SequenceSeedEnsemble(MemberSequenceModel):
    """Members of one sequence model fitted with different seeds, forecast together.

    The sequence-model counterpart of :class:`SeedEnsemble`, for the models whose fit
    depends on a seed (the neural state space model's initial network, the factor
    Transformer's initial weights and batches). Each member is a clone of ``estimator``
    with its own ``random_state`` (drawn from ``random_state``), fitted on the whole
    panel; ``update`` moves every member on, and every forecast combines them:

    - ``"mixture"`` (members with Gaussian forecasts, all of skyield's): the equally
      weighted mixture of the members' Gaussians, approximated by the Gaussian with its
      mean ``mean_k(mu_k)`` and variance ``mean_k(sigma_k^2 + mu_k^2) - mean^2``, so the
      spread between the members widens the intervals (a deep ensemble);
    - ``"average"``: the mean of the members' forecasts and of their quantiles.

    Parameters
    ----------
    estimator : sequence model
        A skyield sequence model of one panel with a ``random_state`` parameter.
    n_estimators : int, default=10
        Number of members.
    combine : {"auto", "average", "mixture"}, default="auto"
        How the forecasts are combined; ``"auto"`` is ``"mixture"`` when the members'
        forecasts are Gaussian and ``"average"`` otherwise.
    n_jobs : int, default=None
        Members fitted in parallel by joblib.
    warm_start : bool, default=False
        When the ensemble is fitted, refit each member from its own previous fit (the
        members' ``warm_start=True``, same seeds) with the current parameters of
        ``estimator``. ``estimator`` must have a ``warm_start`` parameter and
        ``n_estimators`` must not change.
    random_state : int, RandomState instance or None, default=None
        Draws the members' seeds. A fixed value gives bit-identical members on the CPU.

    Attributes
    ----------
    estimators_ : list of estimator
        The fitted members (moved on by :meth:`update`).
    seeds_ : ndarray of shape (n_estimators,)
        The members' ``random_state`` values.
    combine_ : {"average", "mixture"}
        The combination used.
    columns_, last_date_, freq_, n_dates_seen_
        Panel bookkeeping (see :class:`skyield.base.BaseSequenceModel`).

    See Also
    --------
    SeedEnsemble : The seed ensemble of window regressors.

    References
    ----------
    Lakshminarayanan, B., Pritzel, A. and Blundell, C. (2017). Simple and scalable
    predictive uncertainty estimation using deep ensembles. NeurIPS.

    Examples
    --------
    >>> from skyield.datasets import make_nelson_siegel_curves
    >>> from skyield.ensemble import SequenceSeedEnsemble
    >>> from skyield.models import NeuralStateSpaceModel
    >>> curves = make_nelson_siegel_curves(n_dates=60, maturities=[0.25, 1, 2, 5, 10],
    ...                                    random_state=0).curves
    >>> model = NeuralStateSpaceModel(n_factors=2, hidden_layers=(4,), maxiter=5,
    ...                               start_decay=(1.0, 0.3))
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")   # 5 iterations: not converged
    ...     ensemble = SequenceSeedEnsemble(model, n_estimators=2, random_state=0).fit(curves)
    >>> ensemble.forecast(3, coverage=0.9).shape, ensemble.combine_
    ((3, 5, 2), 'mixture')
    """

    _parameter_constraints = {
        "estimator": [HasMethods("fit", "update", "forecast")],
        "n_estimators": [Interval(Integral, 1, None)],
        "combine": [Options("auto", "average", "mixture")],
        "n_jobs": [None, Integral],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator, *, n_estimators=10, combine="auto", n_jobs=None,
                 warm_start=False, random_state=None):
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.combine = combine
        self.n_jobs = n_jobs
        self.warm_start = warm_start
        self.random_state = random_state

    def _unfitted_members(self):
        return [self.estimator]

    def _check_params(self):
        check_sequence_member(self.estimator, "SequenceSeedEnsemble", "estimator",
                              " (window regressors go in SeedEnsemble)")
        params = self.estimator.get_params(deep=False)
        if "random_state" not in params:
            raise ValueError(
                f"SequenceSeedEnsemble varies random_state, which "
                f"{type(self.estimator).__name__} does not have"
            )
        combine = self.combine
        if combine == "auto":
            combine = "mixture" if _has_moments(self.estimator) else "average"
        elif combine == "mixture" and not _has_moments(self.estimator):
            raise ValueError(
                f"combine='mixture' needs members with Gaussian forecasts; "
                f"{type(self.estimator).__name__} has none"
            )
        return combine

    def fit(self, Y, y=None):
        """Fit ``n_estimators`` clones of ``estimator`` with different seeds on ``Y``.

        Parameters
        ----------
        Y : DataFrame of shape (n_dates, n_series) or array-like
            The training panel, as for ``estimator.fit``.
        y : None
            Ignored.

        Returns
        -------
        self : SequenceSeedEnsemble
        """
        self._validate_fit_panel(Y)
        combine = self._check_params()
        seeds = check_random_state(self.random_state).randint(
            np.iinfo(np.int32).max, size=self.n_estimators)
        members = seeded_members(self, seeds)
        self.estimators_ = list(Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_member)(member, Y) for member in members))
        self.seeds_ = seeds
        self.combine_ = combine
        return self

    # ------------------------------------------------------------------ forecast hooks
    def _forecast_mean(self, steps):
        return np.mean([m._forecast_mean(steps) for m in self.estimators_], axis=0)

    def _forecast_moments(self, steps):
        moments = [m._forecast_moments(steps) for m in self.estimators_]
        means = np.stack([np.asarray(mean, dtype=float) for mean, _ in moments])
        stds = np.stack([np.asarray(std, dtype=float) for _, std in moments])
        mean = means.mean(axis=0)
        variance = (stds ** 2 + means ** 2).mean(axis=0) - mean ** 2
        return mean, np.sqrt(np.maximum(variance, 0.0))

    def _forecast_quantiles(self, steps, levels):
        if self.combine_ == "mixture":
            mean, std = self._forecast_moments(steps)
            return mean[..., None] + std[..., None] * norm.ppf(levels)
        return np.mean([m._forecast_quantiles(steps, levels) for m in self.estimators_],
                       axis=0)

    @classmethod
    def get_test_params(cls):
        """Tiny configurations for the common estimator checks.

        Returns
        -------
        params : list of dict
        """
        from skyield.models import FactorTransformer, NeuralStateSpaceModel

        nnss = NeuralStateSpaceModel(n_factors=1, hidden_layers=(2,), maturities="uniform",
                                     maxiter=2, start_decay=(1.0, 0.3))
        transformer = FactorTransformer(window=2, d_model=8, n_heads=2, d_k=4, d_ff=8,
                                        epochs=1, batch_size=16, cycle_epochs=2,
                                        warmup_epochs=1, prior="mean",
                                        validation_fraction=0.3)
        return [
            {"estimator": nnss, "n_estimators": 2, "random_state": 0},
            {"estimator": transformer, "n_estimators": 2, "combine": "average",
             "random_state": 0},
        ]
