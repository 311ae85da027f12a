"""Several single-quantile scikit-learn regressors as one quantile forecaster.

scikit-learn's quantile regressors (``QuantileRegressor``,
``GradientBoostingRegressor(loss="quantile")``, ``HistGradientBoostingRegressor(
loss="quantile")``) fit one quantile level of one output. :class:`MultiQuantileRegressor`
fits one clone per level and output and offers skyield's forecaster interface
(``predict``, ``predict_quantiles``, ``predict_interval``), so that such models can be
conformalized by :class:`~skyield.calibration.ConformalIntervalRegressor` or compared with
skyield's own quantile models.
"""

import numpy as np
from sklearn.base import clone
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted, validate_data

from skyield.base import DEFAULT_COVERAGE, DEFAULT_QUANTILES, BaseWindowRegressor
from skyield.utils import (
    HasMethods,
    Satisfies,
    check_coverage,
    check_increasing_levels,
    check_numeric,
    check_targets,
    restore_target_layout,
    validate_params,
)

__all__ = ["MultiQuantileRegressor", "numeric_targets"]

_LEVEL_ATOL = 1e-9


def _are_levels(value):
    return check_increasing_levels(value).size > 0


def numeric_targets(y, name="y"):
    """``y`` as a float array; object arrays of numbers are accepted, text is not."""
    check_numeric(y, name)
    values = np.asarray(y)
    if values.dtype.kind in "biuf":
        return values.astype(float)
    if values.dtype.kind == "O":
        try:
            return values.astype(float)
        except (TypeError, ValueError):
            pass
    raise ValueError(
        f"{name} must be numeric targets, got an array of dtype {values.dtype} "
        f"(Unknown label type for a regressor)"
    )


class MultiQuantileRegressor(BaseWindowRegressor):
    """One single-quantile regressor per quantile level and output.

    Parameters
    ----------
    estimator : scikit-learn regressor
        A regressor that fits one quantile level, set by the parameter named
        ``quantile_param`` (e.g. ``QuantileRegressor(alpha=0.0)``,
        ``GradientBoostingRegressor(loss="quantile")``). It is cloned for every level and
        output.
    quantiles : sequence of float, default=(0.025, 0.5, 0.975)
        Levels to fit, strictly increasing in (0, 1); must include 0.5, the median being
        what ``predict`` returns.
    quantile_param : str, default="auto"
        Name of the estimator's parameter holding the level. ``"auto"`` uses
        ``quantile`` when the estimator has it (``QuantileRegressor``,
        ``HistGradientBoostingRegressor``) and ``alpha`` when its ``loss`` is
        ``"quantile"`` (``GradientBoostingRegressor``).

    Attributes
    ----------
    quantiles_ : ndarray of shape (n_quantiles,)
        The fitted levels.
    estimators_ : list of list of estimators
        ``estimators_[j][q]`` is the fitted clone for output ``j`` (targets flattened in
        C order) and level ``quantiles_[q]``.
    quantile_param_ : str
        The parameter that set the level.
    target_layout_ : TargetLayout
        The layout of ``y`` given to ``fit``, restored in predictions.
    n_features_in_ : int
        Number of features seen in ``fit`` (the window length for 3-D input).

    Notes
    -----
    ``X`` may be 2-D ``(n_samples, n_features)`` or 3-D windows ``(n_samples, window,
    n_series)``, which are flattened to ``window * n_series`` features in time-major
    order. Targets may be ``(n,)``, ``(n, n_targets)`` or ``(n, horizon, n_targets)``;
    predictions come back in the layout ``fit`` received. Independently fitted
    quantiles can cross; the predicted quantiles are sorted across levels (the
    rearrangement of Chernozhukov, Fernández-Val and Galichon, 2010) so that they never
    do.

    References
    ----------
    Koenker, R. and Bassett, G. (1978). Regression quantiles. Econometrica, 46(1), 33-50.

    Chernozhukov, V., Fernández-Val, I. and Galichon, A. (2010). Quantile and probability
    curves without crossing. Econometrica, 78(3), 1093-1125.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import QuantileRegressor
    >>> from skyield.calibration import MultiQuantileRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = X @ [1.0, -0.5, 0.2] + rng.normal(size=200)
    >>> model = MultiQuantileRegressor(QuantileRegressor(alpha=0.0),
    ...                                quantiles=(0.1, 0.5, 0.9)).fit(X, y)
    >>> model.predict_quantiles(X[:2], (0.1, 0.5, 0.9)).shape
    (2, 3)
    >>> model.predict_interval(X[:2], coverage=0.8).shape
    (2, 2)
    """

    _parameter_constraints = {
        "estimator": [HasMethods("fit", "predict")],
        "quantiles": [Satisfies(_are_levels, "strictly increasing levels in (0, 1)")],
        "quantile_param": [str],
    }

    def __init__(self, estimator, *, quantiles=DEFAULT_QUANTILES, quantile_param="auto"):
        self.estimator = estimator
        self.quantiles = quantiles
        self.quantile_param = quantile_param

    @classmethod
    def get_test_params(cls):
        """Small parameter sets for the common estimator checks."""
        from sklearn.linear_model import QuantileRegressor

        return [{"estimator": QuantileRegressor(alpha=0.0), "quantiles": (0.25, 0.5, 0.75)}]

    def _resolve_param(self):
        params = self.estimator.get_params()
        name = self.quantile_param
        if name != "auto":
            if not isinstance(name, str) or name not in params:
                raise ValueError(
                    f"quantile_param={name!r} is not a parameter of "
                    f"{type(self.estimator).__name__}"
                )
            return name
        if "quantile" in params:
            if "loss" in params and params["loss"] != "quantile":
                raise ValueError(
                    f"{type(self.estimator).__name__} fits quantiles only with "
                    f"loss='quantile', got loss={params['loss']!r}"
                )
            return "quantile"
        if "alpha" in params and params.get("loss") == "quantile":
            return "alpha"
        raise ValueError(
            f"cannot tell which parameter of {type(self.estimator).__name__} sets the "
            f"quantile level; pass quantile_param='...' (and a quantile loss)"
        )

    def _validate_X(self, X, reset):
        check_numeric(X, "X")
        X = validate_data(self, X, reset=reset, allow_nd=True,
                          ensure_all_finite=not get_tags(self.estimator).input_tags.allow_nan)
        if X.ndim > 2:
            X = X.reshape(X.shape[0], -1)
        return X

    def fit(self, X, y, **fit_params):
        """Fit one clone of ``estimator`` per quantile level and output.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, window, n_series)
        y : array-like of shape (n_samples,), (n_samples, n_targets) or \
                (n_samples, horizon, n_targets)
        **fit_params : dict
            Passed to every clone's ``fit``.

        Returns
        -------
        self : MultiQuantileRegressor
        """
        validate_params(self)
        levels = check_increasing_levels(self.quantiles)
        if not np.any(np.isclose(levels, 0.5, rtol=0, atol=_LEVEL_ATOL)):
            raise ValueError(
                f"quantiles must include 0.5, the median that predict returns; got "
                f"{levels.tolist()}"
            )
        param = self._resolve_param()
        X = self._validate_X(X, reset=True)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        y3, layout = check_targets(numeric_targets(y), X.shape[0])
        if not np.all(np.isfinite(y3)):
            raise ValueError("y contains NaN or infinite values")
        flat = y3.reshape(y3.shape[0], -1)
        self.quantile_param_ = param
        self.quantiles_ = levels
        self.target_layout_ = layout
        self.estimators_ = [
            [clone(self.estimator).set_params(**{param: float(level)})
             .fit(X, flat[:, j], **fit_params) for level in levels]
            for j in range(flat.shape[1])
        ]
        return self

    def _all_quantiles(self, X):
        X = self._validate_X(X, reset=False)
        values = np.stack(
            [np.stack([est.predict(X) for est in per_output], axis=-1)
             for per_output in self.estimators_], axis=1)  # (n, n_outputs, n_quantiles)
        values = np.sort(values, axis=-1)
        layout = self.target_layout_
        return values.reshape(values.shape[0], layout.horizon, layout.n_targets, -1)

    def _positions(self, levels):
        positions = []
        for level in levels:
            match = np.flatnonzero(np.isclose(self.quantiles_, level, rtol=0, atol=_LEVEL_ATOL))
            if match.size == 0:
                raise ValueError(
                    f"quantile level {level:g} was not fitted; the fitted levels are "
                    f"{self.quantiles_.tolist()}"
                )
            positions.append(int(match[0]))
        return positions

    def predict(self, X):
        """Median forecast.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, window, n_series)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,), (n_samples, n_targets) or \
                (n_samples, horizon, n_targets)
        """
        check_is_fitted(self)
        values = self._all_quantiles(X)[..., self._positions([0.5])[0]]
        return restore_target_layout(values, self.target_layout_)

    def predict_quantiles(self, X, quantiles=DEFAULT_QUANTILES):
        """Forecast quantiles, sorted along the last axis.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, window, n_series)
        quantiles : sequence of float, default=(0.025, 0.5, 0.975)
            Strictly increasing levels among the fitted ones (``quantiles_``).

        Returns
        -------
        y_quantiles : ndarray of shape y.shape + (n_quantiles,)
            ``y.shape`` being the target layout ``fit`` received.
        """
        check_is_fitted(self)
        levels = check_increasing_levels(quantiles)
        values = self._all_quantiles(X)[..., self._positions(levels)]
        return restore_target_layout(values, self.target_layout_)

    def predict_interval(self, X, coverage=DEFAULT_COVERAGE):
        """Central forecast interval between the ``(1 -/+ coverage) / 2`` quantiles.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, window, n_series)
        coverage : float, default=0.95
            Nominal coverage; both levels ``(1 - coverage) / 2`` and ``(1 + coverage) / 2``
            must have been fitted.

        Returns
        -------
        y_interval : ndarray of shape y.shape + (2,)
            Lower and upper bounds on the last axis.
        """
        check_is_fitted(self)
        coverage = check_coverage(coverage)
        levels = [(1 - coverage) / 2, (1 + coverage) / 2]
        values = self._all_quantiles(X)[..., self._positions(levels)]
        return restore_target_layout(values, self.target_layout_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.target_tags.multi_output = True
        tags.non_deterministic = inner.non_deterministic
        return tags
