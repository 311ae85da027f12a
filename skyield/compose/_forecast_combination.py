"""Forecast combination of window regressors, weights learned on out-of-sample errors."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.utils import get_tags

from skyield.base import BaseWindowRegressor, estimator_kind
from skyield.compose._combination_weights import (
    WEIGHTINGS,
    NamedMembers,
    combination_weights,
)
from skyield.model_selection import ExpandingWindowSplit
from skyield.model_selection._split import require_samples_for_splits
from skyield.utils import HasMethods, Interval, Options, restore_target_layout

__all__ = ["ForecastCombination"]


def _check_window_member(name, estimator):
    if estimator_kind(estimator) != "window":
        raise TypeError(
            f"ForecastCombination combines window regressors; member {name!r} "
            f"({type(estimator).__name__}) is a sequence model: use "
            f"SequenceForecastCombination"
        )


class ForecastCombination(NamedMembers, BaseWindowRegressor):
    """Weighted combination of window regressors, weights learned out of sample.

    ``fit(X, y)`` learns one weight per member and horizon from the members' out-of-sample
    forecasts *inside the training windows*: the windows are split in time order by
    ``cv`` (an expanding-window split that drops, before each test fold, the training
    windows whose targets reach into it); each member is fitted on the training folds
    and forecasts the test fold, and the weights are computed from those forecasts and
    the test folds' targets (see ``weighting``). No window after the ones given is ever
    used, and the weights never see a forecast made by a model fitted on its own
    target. Then every member is fitted on all the windows, and
    ``predict`` combines their forecasts::

        forecast = (1 - shrinkage) * sum_k weights_[h, k] * f_k + shrinkage * f_rw

    where ``f_rw`` is the random walk (the last value of each target series in the
    window).

    The predictive distribution is the combination's own: its forecast errors on the
    test folds (the combined out-of-sample forecasts minus the targets), per horizon and
    target, give Gaussian quantiles (their root mean square as standard deviation) or
    their empirical quantiles (``distribution``), added to the combined forecast. The
    weights are fitted on the same errors, which makes these a little optimistic.

    Parameters
    ----------
    estimators : list of (str, estimator)
        The members: window regressors (:class:`skyield.base.BaseWindowRegressor` or
        scikit-learn regressors). skyield's get the 3-D windows and the targets in the
        layout ``fit`` receives (one with a ``horizons`` parameter left at None is told
        the combination's horizons); a regressor without 3-D input (scikit-learn's own)
        gets each window flattened to a row and its targets to a row, as in
        :class:`InChanges`. Their parameters are reachable as ``<name>__<parameter>``.
    weighting : {"equal", "inverse_mse", "least_squares"}, default="inverse_mse"
        ``"equal"``: ``1 / K``; ``"inverse_mse"``: proportional to the inverse of each
        member's out-of-sample mean squared error; ``"least_squares"``: the
        non-negative weights summing to one that minimise the mean squared error of the
        combined out-of-sample forecast.
    shrinkage : float in [0, 1], default=0.0
        Weight of the random walk in the final combination (needs ``targets`` when
        ``y`` does not hold every input series).
    cv : int or cross-validation object, default=3
        The split of the training windows: an int ``n`` is
        :class:`skyield.model_selection.ExpandingWindowSplit` with ``n`` splits and
        ``horizons`` set to the model's, so that the windows whose targets reach a test
        fold are dropped; any other CV object that never shuffles is used as it is
        (it must make that purge itself).
    distribution : {"gaussian", "empirical"}, default="gaussian"
        Form of the predictive distribution of the combination's errors.
    window, horizons, targets
        As in :class:`skyield.base.BaseWindowRegressor`.

    Attributes
    ----------
    estimators_ : list of estimator
        The members fitted on all the windows.
    named_estimators_ : dict of {str: estimator}
        The same, by name.
    weights_ : ndarray of shape (n_horizons, n_members)
        Weights of the members at each horizon (before the shrinkage).
    oos_mse_ : ndarray of shape (n_horizons, n_members)
        Each member's out-of-sample mean squared error on the test folds.
    residuals_ : ndarray of shape (n_oos, n_horizons, n_targets)
        The combination's out-of-sample forecast errors (targets minus forecasts).
    n_oos_ : int
        Windows forecast out of sample (the test folds together).

    See Also
    --------
    SequenceForecastCombination : The combination of sequence models.

    References
    ----------
    Bates, J. M. and Granger, C. W. J. (1969). The combination of forecasts. Operational
    Research Quarterly 20(4), 451-468.
    Stock, J. H. and Watson, M. W. (2004). Combination forecasts of output growth in a
    seven-country data set. Journal of Forecasting 23(6), 405-430.
    Timmermann, A. (2006). Forecast combinations. Handbook of Economic Forecasting 1,
    135-196.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skyield.baselines import RandomWalk
    >>> from skyield.compose import ForecastCombination, InChanges
    >>> from skyield.preprocessing import make_windows
    >>> rng = np.random.default_rng(0)
    >>> panel = 5.0 + np.cumsum(rng.normal(size=(120, 2)), axis=0)
    >>> w = make_windows(panel, window=6, horizons=[1, 3])
    >>> model = ForecastCombination([("rw", RandomWalk()), ("ridge", InChanges(Ridge()))],
    ...                             weighting="least_squares").fit(w.X, w.y)
    >>> model.weights_.shape, bool(np.allclose(model.weights_.sum(axis=1), 1.0))
    ((2, 2), True)
    >>> model.predict_interval(w.X[-1:]).shape
    (1, 2, 2, 2)
    """

    _parameter_constraints = {
        **{name: BaseWindowRegressor._parameter_constraints[name]
           for name in ("window", "horizons", "targets")},
        "estimators": [list],
        "weighting": [Options(*WEIGHTINGS)],
        "shrinkage": [Interval(Real, 0, 1)],
        "cv": [Interval(Integral, 1, None), HasMethods("split")],
        "distribution": [Options("gaussian", "empirical")],
    }

    def __init__(self, estimators, *, weighting="inverse_mse", shrinkage=0.0, cv=3,
                 distribution="gaussian", window=None, horizons=None, targets=None):
        self.estimators = estimators
        self.weighting = weighting
        self.shrinkage = shrinkage
        self.cv = cv
        self.distribution = distribution
        self.window = window
        self.horizons = horizons
        self.targets = targets

    @property
    def _forecasts_inputs(self):
        # The random walk forecasts input series: they must be known when it is used.
        return self.shrinkage > 0

    # ------------------------------------------------------------------ members
    def _member(self, estimator):
        member = clone(estimator)
        params = member.get_params(deep=False)
        if "horizons" in params and params["horizons"] is None:
            member.set_params(horizons=[int(h) for h in self.horizons_])
        return member

    @staticmethod
    def _flat(member):
        return not get_tags(member).input_tags.three_d_array

    def _member_fit(self, member, X, y):
        """Fit a member on windows ``X`` and targets ``y`` (n, n_horizons, n_targets)."""
        if self._flat(member):
            targets = y.reshape(len(y), -1)
            return member.fit(X.reshape(len(X), -1),
                              targets[:, 0] if targets.shape[1] == 1 else targets)
        # skyield's window models take the targets in the layout fit was given.
        return member.fit(X, restore_target_layout(y, self.target_layout_))

    def _member_forecasts(self, members, X):
        shape = (len(X), self.horizons_.size, self.target_layout_.n_targets)
        return np.stack([np.reshape(np.asarray(
            m.predict(X.reshape(len(X), -1) if self._flat(m) else X), dtype=float), shape)
            for m in members])

    def _random_walk(self, X):
        if self.shrinkage == 0:
            return 0.0
        last = X[:, -1, self.targets_]
        return np.repeat(last[:, None, :], self.horizons_.size, axis=1)

    def _combine(self, forecasts, X):
        combined = np.einsum("hk,knht->nht", self.weights_, forecasts)
        return (1.0 - self.shrinkage) * combined + self.shrinkage * self._random_walk(X)

    def _splitter(self):
        if not isinstance(self.cv, Integral):
            return self.cv
        return ExpandingWindowSplit(int(self.cv), horizons=[int(h) for h in self.horizons_])

    # ------------------------------------------------------------------ fit
    def _fit(self, X, y):
        _, members = self._check_members(_check_window_member)
        n_samples = len(X)
        require_samples_for_splits(n_samples, self.cv, "ForecastCombination")
        folds = list(self._splitter().split(X[:, :1, :1].reshape(n_samples, 1)))
        forecasts, actual, tested = [], [], []
        for train, test in folds:
            fitted = [self._member_fit(self._member(m), X[train], y[train]) for m in members]
            forecasts.append(self._member_forecasts(fitted, X[test]))
            actual.append(y[test])
            tested.append(test)
        forecasts = np.concatenate(forecasts, axis=1)
        actual = np.concatenate(actual)
        self.weights_, self.oos_mse_ = combination_weights(forecasts, actual, self.weighting)
        self.n_oos_ = len(actual)
        self._record_residuals(actual, self._combine(forecasts, X[np.concatenate(tested)]))
        self.estimators_ = [self._member_fit(self._member(m), X, y) for m in members]
        self.named_estimators_ = dict(zip([name for name, _ in self.estimators],
                                          self.estimators_))

    def _predict(self, X):
        return self._combine(self._member_forecasts(self.estimators_, X), X)

    @classmethod
    def get_test_params(cls):
        """Parameter sets for the common checks.

        Returns
        -------
        params : list of dict
        """
        from sklearn.linear_model import Ridge

        from skyield.baselines import RandomWalk

        members = [("rw", RandomWalk()), ("ridge", Ridge())]
        return [
            {"estimators": members, "window": "row", "targets": 0},
            {"estimators": members, "window": "row", "targets": 0, "cv": 2,
             "weighting": "least_squares", "shrinkage": 0.5, "distribution": "empirical"},
        ]
