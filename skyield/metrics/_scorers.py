"""Scorers for ``GridSearchCV(scoring=...)`` and ``cross_validate``.

scikit-learn's ``make_scorer`` calls ``predict``, ``predict_proba`` or
``decision_function`` with ``X`` alone and hands routed metadata to the
metric. Forecast scorers must instead call ``predict_quantiles(X,
quantiles=...)`` or ``predict_interval(X, coverage=...)`` and pass the
``families`` sample metadata to the estimator's prediction method, so a small
subclass of scikit-learn's scorer overrides only the step that obtains the
predictions; metadata requests, ``sample_weight`` handling and multi-metric
scoring are inherited. The subclass uses the private
``sklearn.metrics._scorer._Scorer``: it is the only way to take part in
scikit-learn's scorer protocol (``set_score_request`` and
``_MultimetricScorer``).

Sequence models (:class:`skyield.base.BaseSequenceModel`) are scored on a panel with
``y=None``, as ``GridSearchCV`` scores a transformer: their predictions of the test block
(``predict(Y, horizon=h)`` and the like, each date forecast from the data before it) are
compared with the block itself.
"""

import copy
import functools
import inspect

import numpy as np
from sklearn.metrics._scorer import _Scorer
from sklearn.utils.metadata_routing import MetadataRequest

from ._interval import interval_score, mpiw
from ._point import mean_absolute_error, mean_squared_error, root_mean_squared_error
from ._quantile import crps_from_quantiles, pinball_loss
from ._validation import as_float_array, check_probability, check_quantile_levels

__all__ = [
    "get_scorer",
    "get_scorer_names",
    "make_interval_scorer",
    "make_point_scorer",
    "make_quantile_scorer",
    "neg_crps",
    "neg_interval_score",
    "neg_mean_absolute_error",
    "neg_mean_squared_error",
    "neg_pinball_loss",
    "neg_root_mean_squared_error",
]

# sample metadata that goes to the estimator's prediction method, not to the metric
_PREDICT_METADATA = ("families",)


class _ForecastScorer(_Scorer):
    """Scorer calling ``estimator.<response_method>(X, **predict_params, families=...)``.

    The predictions are not cached across scorers of a multi-metric
    evaluation: two scorers may call the same method with different quantile
    levels or coverages.
    """

    def __init__(self, score_func, sign, kwargs, response_method, predict_params, name,
                 horizon=None):
        super().__init__(score_func, sign, kwargs, response_method)
        self._predict_params = predict_params
        self._name = name
        self._horizon = horizon

    def __call__(self, estimator, X, y_true=None, sample_weight=None, **kwargs):
        # y_true is None when a sequence model is scored on a test block (scikit-learn
        # then calls scorer(estimator, X_test)).
        return super().__call__(estimator, X, y_true, sample_weight=sample_weight, **kwargs)

    def __repr__(self):
        params = "".join(f", {k}={v!r}" for k, v in self._predict_params.items())
        params += "".join(
            f", {k}={v!r}" for k, v in self._kwargs.items() if k not in self._predict_params
        )
        sign = "" if self._sign > 0 else "-"
        return f"<scorer {sign}{self._name} via {self._response_method}{params}>"

    def _get_metadata_request(self):
        if hasattr(self, "_metadata_request"):  # set by set_score_request
            return super()._get_metadata_request()
        # Declared but not requested (None): passing them without
        # set_score_request raises sklearn's UnsetMetadataPassedError, which
        # names the fix. Fixed metric arguments (quantiles, coverage) are not
        # metadata and are left out.
        requests = MetadataRequest(owner=self)
        if self._accept_sample_weight():
            requests.score.add_request(param="sample_weight", alias=None)
        for param in _PREDICT_METADATA:
            requests.score.add_request(param=param, alias=None)
        return requests

    def _score(self, method_caller, estimator, X, y_true=None, **kwargs):
        predict_metadata = {k: kwargs.pop(k) for k in _PREDICT_METADATA if k in kwargs}
        method = getattr(estimator, self._response_method, None)
        if method is None:
            raise AttributeError(
                f"{type(estimator).__name__} has no {self._response_method} method, which "
                f"the {self._name} scorer needs."
            )
        params = dict(self._predict_params, **predict_metadata)
        if y_true is None:
            # A sequence model scored on a test block: the block is its own truth.
            if self._horizon is not None:
                params["horizon"] = self._horizon
            y_true = np.asarray(X, dtype=float)
        y_pred = method(X, **params)
        return self._sign * self._score_func(y_true, y_pred, **{**self._kwargs, **kwargs})


def _split_bounds(y_true, y_interval):
    y_interval = as_float_array(y_interval, "predict_interval output", ndim=(2, 3, 4))
    expected = np.shape(y_true) + (2,)
    if y_interval.shape != expected:
        raise ValueError(
            f"predict_interval must return shape y.shape + (2,) = {expected} (lower, upper), "
            f"got {y_interval.shape}."
        )
    return y_interval[..., 0], y_interval[..., 1]


def _interval_score_of_pairs(
    y_true, y_interval, *, coverage, sample_weight=None, multioutput="uniform_average"
):
    lower, upper = _split_bounds(y_true, y_interval)
    return interval_score(
        y_true, lower, upper, coverage, sample_weight=sample_weight, multioutput=multioutput
    )


def _mpiw_of_pairs(y_true, y_interval, *, sample_weight=None, multioutput="uniform_average"):
    lower, upper = _split_bounds(y_true, y_interval)
    return mpiw(lower, upper, sample_weight=sample_weight, multioutput=multioutput)


class _OnBounds:
    """Call ``metric(y_true, lower, upper, **kwargs)`` on a (..., 2) interval array."""

    def __init__(self, metric):
        self.metric = metric
        # exposes the metric's signature, so that sample_weight support is detected
        functools.update_wrapper(self, metric)

    def __call__(self, y_true, y_interval, **kwargs):
        lower, upper = _split_bounds(y_true, y_interval)
        return self.metric(y_true, lower, upper, **kwargs)


_POINT_METRICS = {
    "mean_squared_error": mean_squared_error,
    "root_mean_squared_error": root_mean_squared_error,
    "mean_absolute_error": mean_absolute_error,
}
_QUANTILE_METRICS = {"pinball": pinball_loss, "crps": crps_from_quantiles}


def _resolve(metric, options, argument):
    if isinstance(metric, str):
        if metric not in options:
            raise ValueError(
                f"{argument} must be one of {tuple(options)} or a callable, got {metric!r}."
            )
        return options[metric], options[metric].__name__
    if not callable(metric):
        raise TypeError(f"{argument} must be a string or a callable, got {metric!r}.")
    return metric, getattr(metric, "__name__", type(metric).__name__)


def make_point_scorer(metric="root_mean_squared_error", *, greater_is_better=False,
                      horizon=None, **kwargs):
    """Make a scorer from a point metric evaluated on ``estimator.predict(X)``.

    Parameters
    ----------
    metric : {"root_mean_squared_error", "mean_squared_error", \
            "mean_absolute_error"} or callable, default="root_mean_squared_error"
        A callable is called as ``metric(y_true, y_pred, **kwargs)`` and must
        return a float.
    greater_is_better : bool, default=False
        False for losses: the scorer returns the negated loss.
    horizon : int, default=None
        For sequence models scored on a test block (``y=None``): the forecast horizon
        in dates passed to their ``predict`` (None: theirs, one date).
    **kwargs
        Passed to the metric, e.g. ``multioutput=weights`` to weight
        maturities.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)``; with metadata routing enabled,
        ``scorer.set_score_request(families=True)`` passes ``families`` on to
        ``estimator.predict``.

    References
    ----------
    .. [1] Richman, R. and Scognamiglio, S. (2024). Multiple yield curve modeling
       and forecasting using deep learning. ASTIN Bulletin, eqs. 5.1-5.2.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyRegressor
    >>> from skyield.metrics import make_point_scorer
    >>> X = np.zeros((2, 1))
    >>> y = np.array([[0.0, 0.0], [2.0, 4.0]])      # 2 maturities
    >>> scorer = make_point_scorer("mean_absolute_error", multioutput=[1.0, 3.0])
    >>> scorer(DummyRegressor().fit(X, y), X, y)    # -(1 * 1 + 3 * 2) / 4
    -1.75
    """
    func, name = _resolve(metric, _POINT_METRICS, "metric")
    sign = 1 if greater_is_better else -1
    return _ForecastScorer(func, sign, kwargs, "predict", {}, name, horizon)


def make_quantile_scorer(metric="pinball", *, quantiles, horizon=None, **kwargs):
    """Make a negated-loss scorer on ``estimator.predict_quantiles(X, quantiles=...)``.

    Parameters
    ----------
    metric : {"pinball", "crps"} or callable, default="pinball"
        :func:`pinball_loss` or :func:`crps_from_quantiles`; a callable is
        called as ``metric(y_true, y_quantiles, quantiles=quantiles,
        **kwargs)`` and must return a loss (lower is better).
    quantiles : array-like of shape (n_quantiles,)
        Strictly increasing levels inside (0, 1), passed to
        ``predict_quantiles`` and to the metric.
    horizon : int, default=None
        For sequence models scored on a test block (``y=None``): the forecast horizon
        in dates.
    **kwargs
        Passed to the metric, e.g. ``multioutput``.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)`` returning minus the loss; with metadata
        routing enabled, ``scorer.set_score_request(families=True)`` passes
        ``families`` on to ``estimator.predict_quantiles``.

    References
    ----------
    .. [1] Gneiting, T. and Raftery, A. E. (2007). Strictly proper scoring rules,
       prediction, and estimation. Journal of the American Statistical
       Association, 102(477), 359-378.

    Examples
    --------
    >>> from skyield.metrics import make_quantile_scorer
    >>> scorer = make_quantile_scorer("crps", quantiles=[0.1, 0.3, 0.5, 0.7, 0.9])
    """
    func, name = _resolve(metric, _QUANTILE_METRICS, "metric")
    levels = tuple(float(q) for q in check_quantile_levels(quantiles))
    return _ForecastScorer(
        func, -1, {**kwargs, "quantiles": levels}, "predict_quantiles",
        {"quantiles": levels}, name, horizon,
    )


def make_interval_scorer(metric="interval_score", *, coverage, horizon=None, **kwargs):
    """Make a negated-loss scorer on ``estimator.predict_interval(X, coverage=...)``.

    Parameters
    ----------
    metric : {"interval_score", "mpiw"} or callable, default="interval_score"
        :func:`interval_score` at ``coverage`` or :func:`mpiw`. A callable is
        called as ``metric(y_true, lower, upper, **kwargs)``, with
        ``coverage=coverage`` added when its signature has a ``coverage``
        parameter, and must return a loss (lower is better).
    coverage : float
        Nominal coverage strictly inside (0, 1), passed to
        ``predict_interval``.
    horizon : int, default=None
        For sequence models scored on a test block (``y=None``): the forecast horizon
        in dates.
    **kwargs
        Passed to the metric, e.g. ``multioutput``.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)`` returning minus the loss; with metadata
        routing enabled, ``scorer.set_score_request(families=True)`` passes
        ``families`` on to ``estimator.predict_interval``.

    References
    ----------
    .. [1] Gneiting, T. and Raftery, A. E. (2007). Strictly proper scoring rules,
       prediction, and estimation. Journal of the American Statistical
       Association, 102(477), 359-378.

    Examples
    --------
    >>> from skyield.metrics import make_interval_scorer
    >>> scorer = make_interval_scorer(coverage=0.9)
    """
    coverage = check_probability(coverage, "coverage")
    if isinstance(metric, str):
        options = {"interval_score": _interval_score_of_pairs, "mpiw": _mpiw_of_pairs}
        func, _ = _resolve(metric, options, "metric")
        name = metric
        if metric == "interval_score":
            kwargs = {**kwargs, "coverage": coverage}
    else:
        _, name = _resolve(metric, {}, "metric")
        try:
            takes_coverage = "coverage" in inspect.signature(metric).parameters
        except (TypeError, ValueError):
            takes_coverage = False
        if takes_coverage:
            kwargs = {**kwargs, "coverage": coverage}
        func = _OnBounds(metric)
    return _ForecastScorer(
        func, -1, kwargs, "predict_interval", {"coverage": coverage}, name, horizon
    )


neg_mean_squared_error = make_point_scorer("mean_squared_error")
neg_root_mean_squared_error = make_point_scorer("root_mean_squared_error")
neg_mean_absolute_error = make_point_scorer("mean_absolute_error")
neg_pinball_loss = make_quantile_scorer("pinball", quantiles=(0.025, 0.5, 0.975))
neg_crps = make_quantile_scorer("crps", quantiles=tuple(np.arange(1, 20) / 20))
neg_interval_score = make_interval_scorer("interval_score", coverage=0.95)

_SCORERS = {
    "neg_mean_squared_error": neg_mean_squared_error,
    "neg_root_mean_squared_error": neg_root_mean_squared_error,
    "neg_mean_absolute_error": neg_mean_absolute_error,
    "neg_pinball_loss": neg_pinball_loss,
    "neg_crps": neg_crps,
    "neg_interval_score": neg_interval_score,
}


def get_scorer_names():
    """Names accepted by :func:`get_scorer`.

    Returns
    -------
    names : list of str
        Sorted scorer names.

    Examples
    --------
    >>> from skyield.metrics import get_scorer_names
    >>> "neg_interval_score" in get_scorer_names()
    True
    """
    return sorted(_SCORERS)


def get_scorer(scoring):
    """Get a skyield scorer by name, as a fresh copy.

    =============================== ==================================================
    name                            scorer
    =============================== ==================================================
    ``neg_mean_squared_error``      ``-mean_squared_error`` on ``predict``
    ``neg_root_mean_squared_error`` ``-root_mean_squared_error`` on ``predict``
    ``neg_mean_absolute_error``     ``-mean_absolute_error`` on ``predict``
    ``neg_pinball_loss``            ``-pinball_loss`` at levels 0.025, 0.5, 0.975
    ``neg_crps``                    ``-crps_from_quantiles`` at levels 0.05, ..., 0.95
    ``neg_interval_score``          ``-interval_score`` of 95% intervals
    =============================== ==================================================

    Every scorer forwards the ``families`` sample metadata to the
    estimator's prediction method once ``set_score_request(families=True)``
    is set (metadata routing enabled). The module-level scorers of the same
    names are shared objects; take a copy from here before setting requests.

    Parameters
    ----------
    scoring : str or callable
        A name from :func:`get_scorer_names`; a callable is returned as is.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)``; greater is better.

    References
    ----------
    .. [1] Richman, R. and Scognamiglio, S. (2024). Multiple yield curve modeling
       and forecasting using deep learning. ASTIN Bulletin, section 5.

    Examples
    --------
    >>> from skyield.metrics import get_scorer
    >>> get_scorer("neg_interval_score")
    <scorer -interval_score via predict_interval, coverage=0.95>
    """
    if isinstance(scoring, str):
        if scoring not in _SCORERS:
            raise ValueError(
                f"{scoring!r} is not a skyield scorer name; valid names are "
                f"{get_scorer_names()}. Use sklearn.metrics.get_scorer for scikit-learn's."
            )
        return copy.deepcopy(_SCORERS[scoring])
    if callable(scoring):
        return scoring
    raise TypeError(f"scoring must be a scorer name or a callable, got {scoring!r}.")
