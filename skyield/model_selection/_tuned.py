"""Models tuned by time-series cross-validation inside their own training span.

scikit-learn's ``GridSearchCV`` with skyield's splitters already tunes both kinds of
estimator on a training span (window regressors on windows, sequence models on a panel;
see ``tests/test_contract.py``). What it does not do is *be* a model of the contract: the
search of a sequence model has no ``forecast`` or ``update``, and the search of a window
regressor passes on neither ``predict_quantiles`` nor ``predict_interval``, so neither
runs in :func:`skyield.model_selection.backtest`, the sktime adapter or a combination.
:class:`TunedWindowRegressor` and :class:`TunedSequenceModel` are that thin layer: ``fit``
runs ``GridSearchCV`` on the data it is given, with an expanding-window split of it
(purged by the horizons for windows) and a forecast scorer, and the model chosen, refitted
on all of it, forecasts. In a backtest every refit is tuned again on its own training
span, never on a later date; the chosen parameters are ``best_params_`` of each fitted
model (``backtest(..., return_estimators=True)``).
"""

from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skyield.base import BaseWindowRegressor, estimator_kind
from skyield.ensemble._sequence_members import MemberSequenceModel, check_sequence_member
from skyield.metrics import make_point_scorer
from skyield.model_selection._split import ExpandingWindowSplit, require_samples_for_splits
from skyield.utils import HasMethods, Interval, Satisfies, check_horizons, restore_target_layout

__all__ = ["TunedSequenceModel", "TunedWindowRegressor", "tuned"]


def _is_grid(value):
    grids = value if isinstance(value, (list, tuple)) else [value]
    return bool(grids) and all(isinstance(grid, dict) and grid for grid in grids)


def _is_horizons(value):
    try:
        return bool(check_horizons(value))
    except (TypeError, ValueError):
        return False


_SEARCH_CONSTRAINTS = {
    "param_grid": [Satisfies(_is_grid, "a dict of parameter lists, or a list of them")],
    "cv": [Interval(Integral, 2, None), HasMethods("split")],
    "scoring": [None, str, "callable"],
    "n_jobs": [None, Integral],
}


class _MeanOverHorizons:
    """Scorer of a sequence model: its ``score`` (minus the mean squared error of the
    block's forecasts, missing values left out) averaged over several horizons."""

    def __init__(self, horizons):
        self.horizons = [int(h) for h in horizons]

    def __call__(self, estimator, Y, y=None):
        return float(np.mean([estimator.score(Y, horizon=h) for h in self.horizons]))


class TunedWindowRegressor(BaseWindowRegressor):
    """A window regressor whose hyper-parameters are chosen on its training windows.

    ``fit(X, y)`` runs ``GridSearchCV(estimator, param_grid)`` on the windows given, split
    in time order by :class:`ExpandingWindowSplit` with ``cv`` splits and the model's
    ``horizons`` (the training windows whose targets reach a test fold are dropped), and
    keeps the best model refitted on all the windows. ``predict``, ``predict_quantiles``
    and ``predict_interval`` are the best model's.

    Parameters
    ----------
    estimator : window regressor
        Given the 3-D windows and the targets in the layout ``fit`` receives; one with a
        ``horizons`` parameter left at None is told the horizons.
    param_grid : dict or list of dict
        The grid, as for ``GridSearchCV``.
    cv : int or cross-validation object, default=3
        Splits of the training windows: an int is :class:`ExpandingWindowSplit` with
        that many splits, purged by the horizons; another CV object is used as it is.
    scoring : str, callable or None, default=None
        As for ``GridSearchCV``; None is minus the mean squared error over every
        horizon and target (:func:`skyield.metrics.make_point_scorer`).
    n_jobs : int, default=None
        Fits of the search run in parallel by joblib.
    window, horizons, targets
        As in :class:`skyield.base.BaseWindowRegressor`.

    Attributes
    ----------
    best_estimator_ : estimator
        The chosen model, refitted on every window.
    best_params_ : dict
        Its parameters from the grid.
    search_ : GridSearchCV
        The fitted search (``cv_results_``).

    See Also
    --------
    TunedSequenceModel : The same for sequence models.
    tuned : The tuned model of either kind.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skyield.compose import InChanges
    >>> from skyield.model_selection import TunedWindowRegressor
    >>> from skyield.preprocessing import make_windows
    >>> rng = np.random.default_rng(0)
    >>> w = make_windows(np.cumsum(rng.normal(size=(150, 2)), axis=0), window=4,
    ...                  horizons=[1, 3])
    >>> model = TunedWindowRegressor(InChanges(Ridge()),
    ...                              {"estimator__alpha": [1e-3, 1e3]}).fit(w.X, w.y)
    >>> sorted(model.best_params_), model.predict_interval(w.X[-1:]).shape
    (['estimator__alpha'], (1, 2, 2, 2))
    """

    _parameter_constraints = {
        **{name: BaseWindowRegressor._parameter_constraints[name]
           for name in ("window", "horizons", "targets")},
        "estimator": [HasMethods("fit", "predict")],
        **_SEARCH_CONSTRAINTS,
    }

    def __init__(self, estimator, param_grid, *, cv=3, scoring=None, n_jobs=None,
                 window=None, horizons=None, targets=None):
        self.estimator = estimator
        self.param_grid = param_grid
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.window = window
        self.horizons = horizons
        self.targets = targets

    def _fit(self, X, y):
        if estimator_kind(self.estimator) != "window":
            raise TypeError(f"TunedWindowRegressor tunes window regressors; "
                            f"{type(self.estimator).__name__} is a sequence model: use "
                            f"TunedSequenceModel")
        require_samples_for_splits(len(X), self.cv, "TunedWindowRegressor")
        estimator = clone(self.estimator)
        params = estimator.get_params(deep=False)
        if "horizons" in params and params["horizons"] is None:
            estimator.set_params(horizons=[int(h) for h in self.horizons_])
        cv = ExpandingWindowSplit(int(self.cv), horizons=[int(h) for h in self.horizons_]) \
            if isinstance(self.cv, Integral) else self.cv
        scoring = self.scoring if self.scoring is not None else \
            make_point_scorer("mean_squared_error")
        self.search_ = GridSearchCV(estimator, self.param_grid, cv=cv, scoring=scoring,
                                    n_jobs=self.n_jobs, error_score="raise")
        self.search_.fit(X, restore_target_layout(y, self.target_layout_))
        self.best_estimator_ = self.search_.best_estimator_
        self.best_params_ = self.search_.best_params_

    def _shape(self, values, X, extra=()):
        return np.reshape(np.asarray(values, dtype=float),
                          (len(X), self.horizons_.size, self.target_layout_.n_targets)
                          + extra)

    def _predict(self, X):
        return self._shape(self.best_estimator_.predict(X), X)

    def _predict_quantiles(self, X, levels):
        values = self.best_estimator_.predict_quantiles(X, quantiles=levels)
        return self._shape(values, X, (len(levels),))

    @classmethod
    def get_test_params(cls):
        """Parameter sets for the common checks.

        Returns
        -------
        params : list of dict
        """
        from skyield.baselines import RandomWalk

        return [{"estimator": RandomWalk(), "window": "row", "targets": 0,
                 "param_grid": {"distribution": ["gaussian", "empirical"]}, "cv": 2}]


class TunedSequenceModel(MemberSequenceModel):
    """A sequence model whose hyper-parameters are chosen on its training panel.

    ``fit(Y)`` runs ``GridSearchCV(estimator, param_grid)`` on the panel given, its dates
    split by :class:`ExpandingWindowSplit` with ``cv`` splits; each candidate is fitted
    on the dates before a test block and scored on the block's forecasts ``h`` dates
    ahead with its parameters frozen, for every ``h`` in ``horizons`` (minus the mean
    squared error, averaged over the horizons). The best candidate, refitted on the
    whole panel, forecasts and moves forward (``update``) as the tuned model.

    Parameters
    ----------
    estimator : sequence model
        A skyield sequence model of one panel.
    param_grid : dict or list of dict
        The grid, as for ``GridSearchCV``.
    horizons : int or list of int, default=1
        Horizons of the default score: ``h`` means ``1 .. h``, a list gives them.
    cv : int or cross-validation object, default=3
        Splits of the panel's dates: an int is :class:`ExpandingWindowSplit` with that
        many splits; another CV object is used as it is.
    scoring : str, callable or None, default=None
        As for ``GridSearchCV``; None is the mean over ``horizons`` described above.
    n_jobs : int, default=None
        Fits of the search run in parallel by joblib.

    Attributes
    ----------
    best_estimator_ : estimator
        The chosen model, refitted on the whole panel (moved on by :meth:`update`).
    best_params_ : dict
        Its parameters from the grid.
    search_ : GridSearchCV
        The fitted search (``cv_results_``).
    estimators_ : list of estimator
        ``[best_estimator_]``.
    columns_, last_date_, freq_, n_dates_seen_
        Panel bookkeeping (see :class:`skyield.base.BaseSequenceModel`).

    See Also
    --------
    TunedWindowRegressor : The same for window regressors.
    tuned : The tuned model of either kind.

    Examples
    --------
    >>> from skyield.baselines import DynamicNelsonSiegel
    >>> from skyield.datasets import make_nelson_siegel_curves
    >>> from skyield.model_selection import TunedSequenceModel
    >>> curves = make_nelson_siegel_curves(n_dates=120, maturities=[0.25, 1, 2, 5, 10, 30],
    ...                                    random_state=0).curves
    >>> model = TunedSequenceModel(DynamicNelsonSiegel(), {"dynamics": ["ar", "var"]},
    ...                            horizons=[1, 6]).fit(curves)
    >>> sorted(model.best_params_), model.forecast(2, coverage=0.9).shape
    (['dynamics'], (2, 6, 2))
    """

    _parameter_constraints = {
        "estimator": [HasMethods("fit", "update", "forecast")],
        "horizons": [Satisfies(_is_horizons, "a positive int or a list of strictly "
                                             "increasing positive ints")],
        **_SEARCH_CONSTRAINTS,
    }

    def __init__(self, estimator, param_grid, *, horizons=1, cv=3, scoring=None,
                 n_jobs=None):
        self.estimator = estimator
        self.param_grid = param_grid
        self.horizons = horizons
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs

    def _unfitted_members(self):
        return [self.estimator]

    def fit(self, Y, y=None):
        """Choose the parameters on ``Y`` by time-series cross-validation, refit the best.

        Parameters
        ----------
        Y : DataFrame of shape (n_dates, n_series) or array-like
            The training panel.
        y : None
            Ignored.

        Returns
        -------
        self : TunedSequenceModel
        """
        panel = self._validate_fit_panel(Y)
        require_samples_for_splits(panel.n_dates, self.cv, "TunedSequenceModel")
        check_sequence_member(self.estimator, "TunedSequenceModel", "estimator",
                              " (window regressors go in TunedWindowRegressor)")
        cv = ExpandingWindowSplit(int(self.cv)) if isinstance(self.cv, Integral) else self.cv
        scoring = self.scoring if self.scoring is not None else \
            _MeanOverHorizons(check_horizons(self.horizons))
        self.search_ = GridSearchCV(clone(self.estimator), self.param_grid, cv=cv,
                                    scoring=scoring, n_jobs=self.n_jobs, error_score="raise")
        self.search_.fit(Y)
        self.best_estimator_ = self.search_.best_estimator_
        self.best_params_ = self.search_.best_params_
        self.estimators_ = [self.best_estimator_]
        return self

    def _forecast_mean(self, steps):
        return self.best_estimator_._forecast_mean(steps)

    def _forecast_quantiles(self, steps, levels):
        return self.best_estimator_._forecast_quantiles(steps, levels)

    @classmethod
    def get_test_params(cls):
        """Parameter sets for the common checks.

        Returns
        -------
        params : list of dict
        """
        from skyield.models import NeuralStateSpaceModel

        tiny = NeuralStateSpaceModel(n_factors=1, hidden_layers=(2,), maturities="uniform",
                                     maxiter=2, start_decay=(1.0, 0.3), random_state=0)
        return [{"estimator": tiny, "param_grid": {"hidden_layers": [(2,), (3,)]},
                 "cv": 2}]


def tuned(estimator, param_grid, *, horizons=None, cv=3, scoring=None, n_jobs=None):
    """The model ``estimator`` tuned on its own training span, whichever its kind.

    Parameters
    ----------
    estimator : window regressor or sequence model
    param_grid : dict or list of dict
        The grid, as for ``GridSearchCV``.
    horizons : int or list of int, default=None
        Horizons of the forecasts scored (sequence models; None: one date ahead) or
        held by the targets (window regressors; None: read from ``y``).
    cv, scoring, n_jobs
        As in :class:`TunedWindowRegressor` and :class:`TunedSequenceModel`.

    Returns
    -------
    model : TunedWindowRegressor or TunedSequenceModel
        Unfitted.

    Examples
    --------
    >>> from skyield.baselines import DynamicNelsonSiegel, RandomWalk
    >>> from skyield.model_selection import tuned
    >>> type(tuned(RandomWalk(), {"distribution": ["gaussian", "empirical"]})).__name__
    'TunedWindowRegressor'
    >>> type(tuned(DynamicNelsonSiegel(), {"dynamics": ["ar", "var"]})).__name__
    'TunedSequenceModel'
    """
    options = dict(cv=cv, scoring=scoring, n_jobs=n_jobs)
    if estimator_kind(estimator) == "sequence":
        return TunedSequenceModel(estimator, param_grid,
                                  horizons=1 if horizons is None else horizons, **options)
    return TunedWindowRegressor(estimator, param_grid, horizons=horizons, **options)
