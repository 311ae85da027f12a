"""Forecast combination of sequence models, weights learned on out-of-sample errors."""

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import clone

from skyield.base import _residual_offsets
from skyield.compose._combination_weights import (
    WEIGHTINGS,
    NamedMembers,
    combination_weights,
)
from skyield.ensemble._sequence_members import MemberSequenceModel, check_sequence_member
from skyield.model_selection import ExpandingWindowSplit
from skyield.model_selection._split import require_samples_for_splits
from skyield.utils import HasMethods, Interval, Options, Satisfies, check_horizons

__all__ = ["SequenceForecastCombination"]


def _is_horizons(value):
    try:
        return bool(check_horizons(value))
    except (TypeError, ValueError):
        return False


def _check_sequence_member(name, estimator):
    check_sequence_member(
        estimator, "SequenceForecastCombination", f"member {name!r}",
        " (combine window regressors with ForecastCombination; for several curve "
        "families use PerFamily(SequenceForecastCombination(...)))")


class SequenceForecastCombination(NamedMembers, MemberSequenceModel):
    """Weighted combination of sequence models, weights learned out of sample.

    ``fit(Y)`` learns one weight per member and horizon from the members' out-of-sample
    forecasts *inside the training panel*: its dates are split by ``cv`` (an expanding
    window); each member is fitted on the dates before a test block and forecasts every
    date of the block ``h`` dates ahead with its parameters frozen
    (``predict(block, horizon=h)`` of the estimator contract), and the weights come from
    those forecasts and the block's values (see ``weighting``). Nothing after the
    panel is used, and no member forecasts a date it was fitted on. Then every member
    is fitted on the whole panel; ``forecast``, ``update``, ``predict`` and ``score``
    work as for any sequence model, the forecast ``s`` steps ahead being::

        (1 - shrinkage) * sum_k weights_[j, k] * f_k(s) + shrinkage * y_last

    with ``y_last`` the last value seen (the random walk) and ``j`` the position in
    ``horizons`` of the largest horizon not above ``s`` (the first horizon for shorter
    steps). The weights at a horizon use the block dates forecast exactly that many
    dates ahead.

    The predictive distribution is the combination's own: its out-of-sample errors at
    each horizon and series give Gaussian quantiles (their root mean square as standard
    deviation) or their empirical quantiles (``distribution``) around the combined
    forecast; a step between or beyond the learned horizons takes those of horizon
    ``j``, which understates the spread of steps beyond the longest horizon. The
    weights are fitted on the same errors, which makes the quantiles a little
    optimistic.

    Parameters
    ----------
    estimators : list of (str, estimator)
        The members: skyield sequence models of one panel (each with the hooks of
        :class:`skyield.base.BaseSequenceModel`). Their parameters are reachable as
        ``<name>__<parameter>``. For a (family, date) panel, combine inside
        :class:`~skyield.compose.PerFamily`: ``PerFamily(SequenceForecastCombination(...))``.
    horizons : int or list of int, default=1
        Horizons (in dates) at which weights are learned: ``h`` means ``1 .. h``, a list
        gives them (``[1, 6, 12]``).
    weighting : {"equal", "inverse_mse", "least_squares"}, default="inverse_mse"
        As in :class:`ForecastCombination`.
    shrinkage : float in [0, 1], default=0.0
        Weight of the random walk (the last value seen) in the final combination.
    cv : int or cross-validation object, default=3
        The split of the panel's dates: an int ``n`` is
        :class:`skyield.model_selection.ExpandingWindowSplit` with ``n`` splits; any other
        CV object whose test dates follow its training dates is used as it is (on an
        undated panel, with no gap between the two).
    distribution : {"gaussian", "empirical"}, default="gaussian"
        Form of the predictive distribution of the combination's errors.

    Attributes
    ----------
    estimators_ : list of estimator
        The members fitted on the whole panel (moved on by :meth:`update`).
    named_estimators_ : dict of {str: estimator}
        The same, by name.
    horizons_ : ndarray of shape (n_horizons,)
        The learned horizons.
    weights_ : ndarray of shape (n_horizons, n_members)
        Weights of the members at each horizon (before the shrinkage).
    oos_mse_ : ndarray of shape (n_horizons, n_members)
        Each member's out-of-sample mean squared error.
    residuals_ : ndarray of shape (n_oos, n_horizons, n_series)
        The combination's out-of-sample errors (values minus forecasts); NaN where a
        block date was not forecast exactly that many dates ahead.
    last_value_ : ndarray of shape (n_series,)
        The last value seen (the random walk's forecast).
    columns_, last_date_, freq_, n_dates_seen_
        Panel bookkeeping (see :class:`skyield.base.BaseSequenceModel`).

    See Also
    --------
    ForecastCombination : The combination of window regressors.

    References
    ----------
    Bates, J. M. and Granger, C. W. J. (1969). The combination of forecasts. Operational
    Research Quarterly 20(4), 451-468.
    Timmermann, A. (2006). Forecast combinations. Handbook of Economic Forecasting 1,
    135-196.

    Examples
    --------
    >>> from skyield.baselines import DynamicNelsonSiegel
    >>> from skyield.compose import SequenceForecastCombination
    >>> from skyield.datasets import make_nelson_siegel_curves
    >>> curves = make_nelson_siegel_curves(n_dates=120, maturities=[0.25, 1, 2, 5, 10, 30],
    ...                                    random_state=0).curves
    >>> members = [("ar", DynamicNelsonSiegel()),
    ...            ("var", DynamicNelsonSiegel(dynamics="var"))]
    >>> model = SequenceForecastCombination(members, horizons=[1, 3],
    ...                                     weighting="least_squares").fit(curves[:100])
    >>> model.weights_.shape
    (2, 2)
    >>> model.forecast(3, coverage=0.9).shape
    (3, 6, 2)
    >>> model.predict(curves[100:], horizon=3).shape
    (20, 6)
    """

    _parameter_constraints = {
        "estimators": [list],
        "horizons": [Satisfies(_is_horizons, "a positive int or a list of strictly "
                                             "increasing positive ints")],
        "weighting": [Options(*WEIGHTINGS)],
        "shrinkage": [Interval(Real, 0, 1)],
        "cv": [Interval(Integral, 1, None), HasMethods("split")],
        "distribution": [Options("gaussian", "empirical")],
    }

    # The random walk needs the last value of every series.
    _allow_missing = False

    def __init__(self, estimators, *, horizons=1, weighting="inverse_mse", shrinkage=0.0,
                 cv=3, distribution="gaussian"):
        self.estimators = estimators
        self.horizons = horizons
        self.weighting = weighting
        self.shrinkage = shrinkage
        self.cv = cv
        self.distribution = distribution

    # ------------------------------------------------------------------ fit
    def _folds(self, Y, panel):
        splitter = ExpandingWindowSplit(int(self.cv)) if isinstance(self.cv, Integral) \
            else self.cv
        dated = panel.index is not None and isinstance(Y, pd.DataFrame)
        for train, test in splitter.split(panel.values):
            train, test = np.sort(train), np.sort(test)
            if np.any(np.diff(train) != 1) or np.any(np.diff(test) != 1) or \
                    test[0] <= train[-1] or (not dated and test[0] != train[-1] + 1):
                raise ValueError(
                    "the cv split must give consecutive training dates followed by "
                    "consecutive test dates (directly after them on a panel without "
                    "dates)"
                )
            yield train, test

    def _oos(self, members, Y, panel):
        """Out-of-sample forecasts (K, n, H, S), the values (n, H, S), random walk."""
        horizons = self.horizons_
        values = panel.values
        forecasts, actual, walk = [], [], []
        for train, test in self._folds(Y, panel):
            rows = (lambda r: Y.iloc[r]) if isinstance(Y, pd.DataFrame) else \
                (lambda r: values[r])
            fitted = [clone(m).fit(rows(train)) for m in members]
            block = rows(test)
            n_test = len(test)
            fold = np.stack([np.stack([np.asarray(m.predict(block, horizon=int(h)),
                                                  dtype=float) for h in horizons], axis=1)
                             for m in fitted])
            target = np.repeat(values[test][:, None, :], len(horizons), axis=1)
            origin = np.empty((n_test, len(horizons), values.shape[1]))
            for j, h in enumerate(horizons):
                # Dates forecast fewer than h dates ahead (the first h - 1 of the block)
                # do not count at horizon h.
                target[:h - 1, j] = np.nan
                rows_back = np.arange(n_test) - h
                origin[:, j] = np.where((rows_back >= 0)[:, None],
                                        values[test][np.maximum(rows_back, 0)],
                                        values[train[-1]])
            forecasts.append(fold)
            actual.append(target)
            walk.append(origin)
        return (np.concatenate(forecasts, axis=1), np.concatenate(actual),
                np.concatenate(walk))

    def fit(self, Y, y=None):
        """Learn the weights out of sample, then fit every member on the whole panel.

        Parameters
        ----------
        Y : DataFrame of shape (n_dates, n_series) or array-like
            The training panel, consecutive dates.
        y : None
            Ignored.

        Returns
        -------
        self : SequenceForecastCombination
        """
        panel = self._validate_fit_panel(Y, min_length=2)
        require_samples_for_splits(panel.n_dates, self.cv, "SequenceForecastCombination")
        names, members = self._check_members(_check_sequence_member)
        self.horizons_ = np.asarray(check_horizons(self.horizons))
        forecasts, actual, walk = self._oos(members, Y, panel)
        self.weights_, self.oos_mse_ = combination_weights(forecasts, actual, self.weighting)
        combined = self._shrunk(np.einsum("hk,knhs->nhs", self.weights_, forecasts), walk)
        self.residuals_ = actual - combined
        self.estimators_ = [clone(m).fit(Y) for m in members]
        self.named_estimators_ = dict(zip(names, self.estimators_))
        self.last_value_ = panel.values[-1].copy()
        return self

    def _shrunk(self, combined, walk):
        return (1.0 - self.shrinkage) * combined + self.shrinkage * walk

    # ------------------------------------------------------------------ sequence hooks
    def _positions(self, steps):
        """Position in ``horizons_`` whose weights serve each step 1 .. steps."""
        return np.maximum(np.searchsorted(self.horizons_, np.arange(1, steps + 1),
                                          side="right") - 1, 0)

    def _forecast_mean(self, steps):
        forecasts = np.stack([np.asarray(m._forecast_mean(steps), dtype=float)
                              for m in self.estimators_])
        weights = self.weights_[self._positions(steps)]                 # (steps, K)
        combined = np.einsum("sk,kst->st", weights, forecasts)
        return self._shrunk(combined, self.last_value_[None, :])

    def _forecast_quantiles(self, steps, levels):
        mean = self._forecast_mean(steps)
        offsets = np.stack([
            _residual_offsets(self._errors_at(j)[:, None, :], levels, self.distribution)[0]
            for j in range(self.horizons_.size)])                       # (H, S, Q)
        return mean[..., None] + offsets[self._positions(steps)]

    def _errors_at(self, position):
        errors = self.residuals_[:, position]
        return errors[np.isfinite(errors).all(axis=1)]

    def _update(self, values):
        super()._update(values)
        self.last_value_ = np.asarray(values, dtype=float)[-1].copy()

    @classmethod
    def get_test_params(cls):
        """Parameter sets for the common checks.

        Returns
        -------
        params : list of dict
        """
        from skyield.models import NeuralStateSpaceModel

        tiny = dict(n_factors=1, hidden_layers=(2,), maturities="uniform", maxiter=2,
                    start_decay=(1.0, 0.3), random_state=0)
        members = [("one", NeuralStateSpaceModel(**tiny)),
                   ("two", NeuralStateSpaceModel(**dict(tiny, hidden_layers=(3,))))]
        return [
            {"estimators": members, "cv": 2},
            {"estimators": members, "cv": 2, "horizons": 2, "weighting": "least_squares",
             "shrinkage": 0.3, "distribution": "empirical"},
        ]
