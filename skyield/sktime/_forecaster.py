"""Any skyield estimator as an sktime forecaster of a curve panel.

sktime forecasters take a series (dates x series) and a forecasting horizon; skyield's
window regressors take windows of history and targets, and its sequence models a panel
with ``fit``/``update``/``forecast``. :class:`SkyieldForecaster` is the bridge (the panel
layer of the package design): it cuts windows for window regressors exactly as
:func:`skyield.model_selection.backtest` does, and drives sequence models through
``fit``/``update``/``forecast``, so that sktime's ``evaluate``, ``ForecastingGridSearchCV``
and pipelines see every skyield model as one more forecaster. Written here because
sktime's own reduction forecasters know neither windows of several series at once with
3-D inputs, nor curve families, nor models that forecast and update themselves.
"""

import inspect
import numbers

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import get_tags
from sktime.forecasting.base import BaseForecaster

from skyield.base import accepts_families, estimator_kind
from skyield.sktime._panel import FamilyPanel, check_sktime_dates
from skyield.utils import resolve_maturities

__all__ = ["SkyieldForecaster"]

STRATEGIES = ("direct", "recursive")
# The window regressor's method for each kind of prediction.
METHODS = {"point": "predict", "quantiles": "predict_quantiles", "interval": "predict_interval"}


def _infer_kind(estimator):
    """Window or sequence, without raising (for the tags set at construction)."""
    try:
        return estimator_kind(estimator)
    except TypeError:
        return None


def _has(estimator, *names):
    return any(callable(getattr(estimator, name, None)) for name in names)


def _sequence_has_distribution(estimator):
    """Whether a sequence model's ``forecast`` gives quantiles (skyield's sequence models
    all do; another estimator's ``forecast`` must take ``quantiles=``)."""
    try:
        return "quantiles" in inspect.signature(estimator.forecast).parameters
    except (TypeError, ValueError, AttributeError):
        return False


def _check_levels(alpha):
    """Sorted unique levels of ``alpha`` and the position of each requested level."""
    levels = np.unique(np.asarray(alpha, dtype=float))
    return levels, np.searchsorted(levels, np.asarray(alpha, dtype=float))


class SkyieldForecaster(BaseForecaster):
    """Any skyield estimator as an sktime forecaster of a (multi-family) curve panel.

    ``fit(y)`` takes the panel, dates x series (one column per maturity), or several
    curve families as a (family, date) MultiIndex (sktime's ``pd-multiindex`` Panel
    mtype; deeper hierarchies are looped over by sktime). ``predict(fh)``,
    ``predict_quantiles(fh, alpha)`` and ``predict_interval(fh, coverage)`` forecast
    every series at the steps of ``fh`` after the last date seen; ``update(y)``
    appends new dates.

    **Window regressors** (:class:`skyield.base.BaseWindowRegressor`: RandomWalk, the
    rolling regression, the deep window models; or any scikit-learn regressor) that
    forecast every series of their windows:
    training windows of ``window`` dates are cut from every family (never across
    families) with their targets, stacked in date order, and the model forecasts from
    the last ``window`` dates of each family.

    - ``strategy="direct"`` (default): one fit, whose targets ``y`` of shape
      ``(n_windows, n_steps, n_series)`` hold the series at every step of the ``fh``
      given to ``fit`` (so ``fh`` is required in ``fit``); only windows whose every
      target is observed are used. Intervals and quantiles come from the model's
      ``predict_interval`` / ``predict_quantiles``, per step.
    - ``strategy="recursive"``: one fit of one-step-ahead targets ``(n_windows,
      n_series)``; longer steps feed the model its own forecasts in place of the
      unknown values. One-step predictive distributions do not compose into h-step
      ones without simulating paths, so this strategy gives no
      intervals (``capability:pred_int`` is False and sktime raises
      ``NotImplementedError``); use ``strategy="direct"`` for intervals.

    An estimator with intervals but no quantiles gives the quantile at level ``a`` as an end of its
    interval of coverage ``|1 - 2a|``; one with quantiles but no intervals gives
    intervals from its quantiles at ``(1 - c) / 2`` and ``(1 + c) / 2``.

    The adapter sets these parameters of (a clone of) the inner estimator when it has
    them: ``horizons`` to the steps its targets hold, and ``maturities``, when None, to
    the maturities read from the column labels (e.g. ``"10Y"``, or numbers as years);
    families go to ``fit``/``predict``/``predict_quantiles``/``predict_interval`` as
    ``families=`` when those accept it (else windows of all families are pooled).
    Estimators that do not take 3-D input (scikit-learn's own regressors) get windows
    flattened to ``(n_windows, window * n_series)`` and targets to
    ``(n_windows, n_steps * n_series)``.

    **Sequence models** (:class:`skyield.base.BaseSequenceModel`: DynamicNelsonSiegel,
    the Kalman factor models, NNSS, the factor Transformer; or any estimator with
    ``fit(Y)``, ``update`` and ``forecast(steps)``): one clone is fitted per family on its
    frame; predictions come from ``forecast(steps)``, ``forecast(steps, quantiles=...)``
    and ``forecast(steps, coverage=...)``; ``strategy`` and ``window`` do not apply (the
    model's own dynamics carry it over several steps).

    **Update.** ``update(y, update_params=False)`` appends the new dates: window models
    forecast from the new last window, sequence models ``update`` their state with the
    new dates (parameters frozen). ``update_params=True`` (sktime's default) re-fits on
    every date seen, as sktime defines it.

    **Families with different ends.** Each family is forecast the steps of ``fh`` from
    its own last date, as sktime does for the instances of a panel; an absolute ``fh``
    then means different steps per family (with ``strategy="direct"``, steps that the
    fit did not cover raise an error).

    Parameters
    ----------
    estimator : estimator
        A window regressor (``fit(X, y)``/``predict(X)`` on windows) or a sequence model
        (``fit(Y)``/``update``/``forecast``); which one is read from its base (see
        :func:`skyield.base.estimator_kind`). It is cloned, never fitted in place. To
        model changes, use the estimator's own ``differences=True``.
    window : int, default=None
        Dates per window (window regressors; required for them).
    strategy : {"direct", "recursive"}, default="direct"
        Multi-step strategy of window regressors; see above.

    Attributes
    ----------
    kind_ : {"window", "sequence"}
        How the estimator is driven.
    estimator_ : estimator
        The fitted window regressor (window regressors).
    estimators_ : dict of {family: estimator}
        The fitted sequence model of each family, key None without families (sequence
        models).
    horizons_ : ndarray of shape (n_steps,)
        Steps ahead held by the targets of the window regressor's fit (``[1]`` for the
        recursive strategy).
    families_ : list or None
        Family labels, in order of first appearance, or None for a single panel.

    See Also
    --------
    skyield.model_selection.backtest : the same windows and origins without sktime.

    Notes
    -----
    Tags: ``capability:multivariate`` (any number of series), ``y_inner_mtype``
    ``["pd.DataFrame", "pd-multiindex"]`` (families are handled here; deeper hierarchies
    are looped over by sktime), ``capability:exogenous`` False (``X`` is ignored),
    ``capability:missing_values`` False, ``capability:insample`` False,
    ``capability:update`` True. ``requires-fh-in-fit`` is True for window regressors
    with ``strategy="direct"`` and False otherwise, and ``capability:pred_int`` is True
    when the estimator has quantiles or intervals (and, for window regressors, the
    strategy is direct); both are set per instance.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skyield.baselines import RandomWalk
    >>> from skyield.sktime import SkyieldForecaster
    >>> rng = np.random.default_rng(0)
    >>> y = pd.DataFrame(rng.normal(size=(40, 2)).cumsum(axis=0), columns=["2Y", "10Y"],
    ...                  index=pd.period_range("2000-01", periods=40, freq="M"))
    >>> forecaster = SkyieldForecaster(RandomWalk(), window=3).fit(y, fh=[1, 2])
    >>> forecaster.predict().shape
    (2, 2)
    >>> bool(np.allclose(forecaster.predict().to_numpy(), y.to_numpy()[[-1, -1]]))
    True
    >>> forecaster.predict_interval(coverage=0.9).shape
    (2, 4)
    """

    _tags = {
        "authors": ["skyield developers"],
        "maintainers": ["skyield developers"],
        "object_type": "forecaster",
        "y_inner_mtype": ["pd.DataFrame", "pd-multiindex"],
        "X_inner_mtype": "pd.DataFrame",
        "capability:multivariate": True,
        "capability:exogenous": False,
        "capability:insample": False,
        "capability:pred_int": True,
        "capability:pred_int:insample": False,
        "capability:missing_values": False,
        "capability:update": True,
        "capability:unequal_length": True,
        "requires-fh-in-fit": True,
        "fit_is_empty": False,
        "tests:skip_by_name": [],
    }
    # The adapter keeps its own history of the data seen (it needs the last window of
    # every family after each update), so sktime's copy is not needed.
    _config = {"remember_data": False}
    # sktime's own copy, kept only when a user sets remember_data=True again.
    _y = None
    _X = None

    def __init__(self, estimator, window=None, strategy="direct"):
        self.estimator = estimator
        self.window = window
        self.strategy = strategy
        super().__init__()
        kind = _infer_kind(estimator)
        if kind == "sequence":
            self.set_tags(**{
                "requires-fh-in-fit": False,
                "capability:pred_int": _sequence_has_distribution(estimator),
            })
        elif kind == "window":
            direct = strategy != "recursive"
            self.set_tags(**{
                "requires-fh-in-fit": direct,
                "capability:pred_int": direct and _has(estimator, "predict_quantiles",
                                                       "predict_interval"),
            })

    # -- checks -------------------------------------------------------------------------

    def _check_params(self):
        kind = estimator_kind(self.estimator)
        if kind == "window":
            if self.strategy not in STRATEGIES:
                raise ValueError(
                    f"strategy must be one of {STRATEGIES}, got {self.strategy!r}"
                )
            if self.window is None:
                raise ValueError(
                    f"window regressors need window=, the number of dates per window "
                    f"({type(self.estimator).__name__} is one)"
                )
            if not isinstance(self.window, numbers.Integral) or \
                    isinstance(self.window, bool) or self.window < 1:
                raise ValueError(f"window must be a positive integer, got {self.window!r}")
        return kind

    def _steps(self, fh, cutoff):
        steps = np.asarray(fh.to_relative(cutoff).to_numpy(), dtype=int)
        if np.any(steps < 1):
            raise ValueError(
                f"fh holds steps {steps.tolist()} relative to the last date "
                f"{cutoff[0]!r}; only out-of-sample steps (1, 2, ...) can be forecast"
            )
        return steps

    # -- fit ----------------------------------------------------------------------------

    def fit(self, y, X=None, fh=None):
        """Fit to the panel ``y`` (sktime's ``fit``, after the data intake's date checks).

        Unsorted, duplicated or unevenly spaced dates are refused naming the dates,
        before sktime converts ``y``; see :meth:`_fit` for the rest.
        """
        check_sktime_dates(y)
        return super().fit(y, X=X, fh=fh)

    def update(self, y, X=None, update_params=True):
        """Append new dates (sktime's ``update``, after the data intake's date checks).

        Rows that would change the stored ones are refused here, before sktime moves its
        cutoff and its copy of ``y``, so that a refused update leaves the forecaster as
        it was (see ``FamilyPanel.extend``).
        """
        check_sktime_dates(y)
        if isinstance(y, pd.DataFrame) and getattr(self, "_panel", None) is not None:
            self._panel.extend(FamilyPanel.from_sktime(y))
        return super().update(y, X=X, update_params=update_params)

    def _fit(self, y, X=None, fh=None):
        """Fit the inner estimator on the panel ``y``.

        Parameters
        ----------
        y : DataFrame of shape (n_dates, n_series), or with a (family, date) MultiIndex
        X : ignored
        fh : ForecastingHorizon or None
            Required for window regressors with ``strategy="direct"``.

        Returns
        -------
        self : SkyieldForecaster
        """
        self.kind_ = self._check_params()
        self._panel = FamilyPanel.from_sktime(y)
        self.families_ = self._panel.labels if self._panel.multi else None
        self._fit_inner(fh)
        return self

    def _fit_inner(self, fh):
        panel = self._panel
        if self.kind_ == "sequence":
            self.estimators_ = {}
            for label, frame in panel.frames.items():
                model = clone(self.estimator)
                try:
                    model.fit(frame)
                except ValueError as error:
                    where = "" if label is None else f"family {label!r}: "
                    raise ValueError(f"{where}{error}") from None
                self.estimators_[label] = model
            return
        if self.strategy == "direct":
            steps = np.unique(np.concatenate([
                self._steps(fh, cutoff) for cutoff in panel.family_cutoffs().values()
            ]))
        else:
            steps = np.array([1])
        self.horizons_ = steps
        X, targets, families = panel.training_windows(self.window, steps)
        model = self._prepared_estimator(steps, panel.columns)
        self._flat = not get_tags(model).input_tags.three_d_array
        kwargs = {}
        if families is not None and accepts_families(model.fit):
            kwargs["families"] = families
        model.fit(self._inputs(X), self._targets(targets), **kwargs)
        self.estimator_ = model

    def _prepared_estimator(self, steps, columns):
        model = clone(self.estimator)
        params = model.get_params(deep=False)
        updates = {}
        if "horizons" in params:
            updates["horizons"] = [int(s) for s in steps]
        if "maturities" in params and params["maturities"] is None:
            maturities = resolve_maturities(None, len(columns), columns, required=False)
            if maturities is not None:
                updates["maturities"] = maturities
        return model.set_params(**updates) if updates else model

    def _inputs(self, X):
        return X.reshape(X.shape[0], -1) if self._flat else X

    def _targets(self, targets):
        n, n_steps, n_series = targets.shape
        if self._flat:
            flat = targets.reshape(n, n_steps * n_series)
            return flat[:, 0] if flat.shape[1] == 1 else flat
        # As the backtest: one step gives (n,) or (n, n_series), as scikit-learn expects.
        if n_steps == 1:
            return targets[:, 0, 0] if n_series == 1 else targets[:, 0, :]
        return targets

    # -- update -------------------------------------------------------------------------

    def _update(self, y, X=None, update_params=True):
        """Append new dates; re-fit on every date seen when ``update_params``.

        Parameters
        ----------
        y : DataFrame of shape (n_new_dates, n_series), or with a (family, date) MultiIndex
        X : ignored
        update_params : bool, default=True
            Re-fit the inner estimator on every date seen (True), or only move on
            (False: window models forecast from the new last window, sequence models
            ``update`` their state).

        Returns
        -------
        self : SkyieldForecaster
        """
        self._panel, new_rows = self._panel.extend(FamilyPanel.from_sktime(y))
        if update_params:
            self._fit_inner(self._fh)
        elif self.kind_ == "sequence":
            for label, rows in new_rows.items():
                if len(rows):
                    self.estimators_[label].update(rows)
        return self

    # -- predictions --------------------------------------------------------------------

    def _family_steps(self, fh):
        return {label: self._steps(fh, cutoff)
                for label, cutoff in self._panel.family_cutoffs().items()}

    def _output_index(self, fh):
        cutoffs = self._panel.family_cutoffs()
        if not self._panel.multi:
            return pd.Index(fh.to_absolute_index(cutoffs[None]), name=self._panel.index_names[0])
        tuples = [(label, date) for label, cutoff in cutoffs.items()
                  for date in fh.to_absolute_index(cutoff)]
        return pd.MultiIndex.from_tuples(tuples, names=self._panel.index_names)

    def _window_values(self, fh, method, **params):
        """Per family, an array (n_steps_f, n_series, ...) from the window regressor."""
        steps = self._family_steps(fh)
        levels = self._panel.last_windows(self.window)
        if self.strategy == "recursive":
            return self._recursive(levels, steps)
        positions = {}
        for label, family_steps in steps.items():
            missing = np.setdiff1d(family_steps, self.horizons_)
            if missing.size:
                raise ValueError(
                    f"{'' if label is None else f'family {label!r}: '}step(s) "
                    f"{missing.tolist()} were not in the fh given to fit (steps "
                    f"{self.horizons_.tolist()}); with strategy='direct' re-fit with the "
                    f"new fh"
                )
            positions[label] = np.searchsorted(self.horizons_, family_steps)
        tail = None
        if method == "predict_quantiles":
            tail = len(params["quantiles"])
        elif method == "predict_interval":
            tail = 2
        values = self._call_window(method, levels, tail, **params)
        return {label: values[rank, positions[label]]
                for rank, label in enumerate(self._panel.labels)}

    def _call_window(self, method, levels, tail=None, **params):
        """``method`` of the fitted window regressor on the last window of every family,
        as an array (n_families, n_steps, n_series), with a last axis of length ``tail``
        for quantiles and intervals."""
        model = self.estimator_
        function = getattr(model, method, None)
        if not callable(function):
            raise NotImplementedError(
                f"{type(model).__name__} has no {method}; SkyieldForecaster cannot give "
                f"this prediction with it"
            )
        if self._panel.multi and accepts_families(function):
            params["families"] = np.asarray(self._panel.labels, dtype=object)
        values = np.asarray(function(self._inputs(levels), **params), dtype=np.float64)
        # The regressor answers in the layout of its targets: steps and series may be
        # flattened together, and one step or one series may be left out.
        shape = (levels.shape[0], len(self.horizons_), levels.shape[2])
        shape = shape if tail is None else shape + (tail,)
        if values.size != np.prod(shape) or values.shape[0] != shape[0]:
            raise ValueError(
                f"{type(model).__name__}.{method} returned shape {values.shape}; expected "
                f"{shape} (steps and series may be flattened together)"
            )
        return values.reshape(shape)

    def _recursive(self, levels, steps):
        longest = max(int(s.max()) for s in steps.values())
        path = levels
        forecasts = []
        for _ in range(longest):
            step = self._call_window("predict", path)[:, 0, :]
            forecasts.append(step)
            path = np.concatenate([path[:, 1:, :], step[:, None, :]], axis=1)
        forecasts = np.stack(forecasts, axis=1)
        return {label: forecasts[rank, steps[label] - 1]
                for rank, label in enumerate(self._panel.labels)}

    def _sequence_values(self, fh, **params):
        """Per family, an array (n_steps_f, n_series, ...) from the sequence models."""
        out = {}
        for label, family_steps in self._family_steps(fh).items():
            model = self.estimators_[label]
            longest = int(family_steps.max())
            values = np.asarray(model.forecast(longest, **params), dtype=np.float64)
            n_series = len(self._panel.columns)
            if values.shape[:2] != (longest, n_series):
                raise ValueError(
                    f"{type(model).__name__}.forecast returned shape {values.shape}; "
                    f"expected ({longest}, {n_series}, ...)"
                )
            out[label] = values[family_steps - 1]
        return out

    def _values(self, fh, kind, **params):
        if self.kind_ == "sequence":
            return self._sequence_values(fh, **params)
        method = METHODS[kind]
        if kind != "point" and self.strategy == "recursive":
            raise NotImplementedError(
                "strategy='recursive' gives point forecasts only; use strategy='direct' "
                "for quantiles and intervals"
            )
        return self._window_values(fh, method, **params)

    def _frame(self, fh, per_family, columns):
        rows = np.concatenate([per_family[label].reshape(len(per_family[label]), -1)
                               for label in self._panel.labels])
        return pd.DataFrame(rows, index=self._output_index(fh), columns=columns)

    def _predict(self, fh, X=None):
        """Point forecasts at the steps of ``fh``.

        Parameters
        ----------
        fh : ForecastingHorizon
        X : ignored

        Returns
        -------
        y_pred : DataFrame of shape (n_steps * n_families, n_series)
        """
        return self._frame(fh, self._values(fh, "point"), self._panel.columns)

    def _inner_has(self, kind):
        if self.kind_ == "sequence":
            return _sequence_has_distribution(self.estimator) or kind == "point"
        return _has(self.estimator, METHODS[kind])

    def _predict_quantiles(self, fh, X=None, alpha=None):
        """Quantile forecasts at the steps of ``fh``.

        From the estimator's quantiles, or from its central intervals when it has no
        quantiles (the level ``a`` is an end of the interval of coverage ``|1 - 2a|``).

        Parameters
        ----------
        fh : ForecastingHorizon
        X : ignored
        alpha : list of float
            Quantile levels in (0, 1).

        Returns
        -------
        quantiles : DataFrame
            Columns (series, level), rows as in ``predict``.
        """
        columns = self._get_columns(method="predict_quantiles", alpha=alpha)
        if self._inner_has("quantiles") or not self._inner_has("interval"):
            levels, order = _check_levels(alpha)
            values = self._values(fh, "quantiles", quantiles=list(levels))
            return self._frame(fh, {label: v[..., order] for label, v in values.items()},
                               columns)
        parts = []
        for level in alpha:
            if level == 0.5:
                raise ValueError(
                    f"{type(self.estimator).__name__} gives intervals only; the median "
                    f"(alpha=0.5) needs quantiles"
                )
            interval = self._values(fh, "interval", coverage=abs(1.0 - 2.0 * level))
            parts.append({label: v[..., int(level > 0.5)] for label, v in interval.items()})
        values = {label: np.stack([part[label] for part in parts], axis=-1)
                  for label in self._panel.labels}
        return self._frame(fh, values, columns)

    def _predict_interval(self, fh, X=None, coverage=None):
        """Central prediction intervals at the steps of ``fh``.

        From the estimator's intervals, or from its quantiles at ``(1 - c) / 2`` and
        ``(1 + c) / 2`` when it has no intervals.

        Parameters
        ----------
        fh : ForecastingHorizon
        X : ignored
        coverage : list of float
            Nominal coverages in (0, 1).

        Returns
        -------
        pred_int : DataFrame
            Columns (series, coverage, "lower"/"upper"), rows as in ``predict``.
        """
        columns = self._get_columns(method="predict_interval", coverage=coverage)
        if self._inner_has("interval") or not self._inner_has("quantiles"):
            parts = [self._values(fh, "interval", coverage=float(c)) for c in coverage]
        else:
            ends = [[(1 - c) / 2, (1 + c) / 2] for c in coverage]
            levels, order = _check_levels(np.ravel(ends))
            quantiles = self._values(fh, "quantiles", quantiles=list(levels))
            order = order.reshape(-1, 2)
            parts = [{label: v[..., pair] for label, v in quantiles.items()}
                     for pair in order]
        values = {label: np.stack([part[label] for part in parts], axis=-2)
                  for label in self._panel.labels}
        return self._frame(fh, values, columns)

    # -- test configurations ------------------------------------------------------------

    @classmethod
    def get_test_params(cls, parameter_set="default"):
        """Small configurations for sktime's checks.

        Parameters
        ----------
        parameter_set : str, default="default"
            Unused; sktime's signature.

        Returns
        -------
        params : list of dict
        """
        from sklearn.linear_model import Ridge

        from skyield.baselines import RandomWalk

        return [
            {"estimator": RandomWalk(), "window": 3},
            {"estimator": RandomWalk(distribution="empirical"), "window": 2},
            # A scikit-learn regressor on flattened windows, one step at a time.
            {"estimator": Ridge(alpha=1.0), "window": 3, "strategy": "recursive"},
        ]
