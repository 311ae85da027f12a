"""Any regressor on windows of history, made to model the changes of the series."""

import numpy as np
from sklearn.base import clone
from sklearn.utils import get_tags

from skyield.base import BaseWindowRegressor
from skyield.utils import HasMethods, Options

__all__ = ["InChanges"]


class InChanges(BaseWindowRegressor):
    """A window regressor that models the changes of the series, for any regressor.

    skyield's window models have ``differences=True`` for this; ``InChanges`` gives the
    same to any scikit-learn regressor (``Ridge``, a gradient-boosting model, a
    pipeline): the regressor is fitted on the ``window - 1`` first differences inside
    each window and on the changes of the targets since the window's last date, and its
    forecasts (and the quantiles of its training errors) are returned in levels. A
    regressor without 3-D input (scikit-learn's own) gets each window flattened to one
    row and its targets flattened to one row.

    Parameters
    ----------
    estimator : regressor
        Fitted on the changes; cloned.
    window : int, default=None
        Dates per window; required to read a 2-D ``X``.
    horizons : int or list of int, default=None
        Steps ahead held by the horizon axis of ``y``.
    targets : int, list of int or None, default=None
        Positions among the input series of the series ``y`` holds (None: all).
    distribution : {"gaussian", "empirical"}, default="gaussian"
        Predictive distribution of the forecast error, from the training errors.

    Attributes
    ----------
    estimator_ : regressor
        The fitted regressor.
    residuals_ : ndarray of shape (n_samples, n_horizons, n_targets)
        Training forecast errors of the changes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skyield.compose import InChanges
    >>> from skyield.preprocessing import make_windows
    >>> rng = np.random.default_rng(0)
    >>> panel = 5.0 + np.cumsum(rng.normal(size=(80, 2)), axis=0)
    >>> w = make_windows(panel, window=6, horizons=[1, 3])
    >>> model = InChanges(Ridge()).fit(w.X, w.y)
    >>> model.predict(w.X[-1:]).shape, model.predict_interval(w.X[-1:]).shape
    ((1, 2, 2), (1, 2, 2, 2))
    """

    # Always in changes: the point of the wrapper.
    differences = True
    _forecasts_inputs = True

    _parameter_constraints = {
        **{name: BaseWindowRegressor._parameter_constraints[name]
           for name in ("window", "horizons", "targets")},
        "estimator": [HasMethods("fit", "predict")],
        "distribution": [Options("gaussian", "empirical")],
    }

    def __init__(self, estimator, *, window=None, horizons=None, targets=None,
                 distribution="gaussian"):
        self.estimator = estimator
        self.window = window
        self.horizons = horizons
        self.targets = targets
        self.distribution = distribution

    def _flat(self):
        return not get_tags(self.estimator).input_tags.three_d_array

    def _fit(self, X, y):
        inputs = X.reshape(len(X), -1) if self._flat() else X
        targets = y.reshape(len(y), -1) if self._flat() else y
        if targets.ndim == 2 and targets.shape[1] == 1:
            targets = targets[:, 0]
        self.estimator_ = clone(self.estimator).fit(inputs, targets)
        self._record_residuals(y, self._predict(X))

    def _predict(self, X):
        inputs = X.reshape(len(X), -1) if self._flat() else X
        values = np.asarray(self.estimator_.predict(inputs), dtype=float)
        return values.reshape(len(X), self.horizons_.size, self.targets_.size)

    @classmethod
    def get_test_params(cls):
        """Parameter sets for the common checks."""
        from sklearn.linear_model import Ridge

        return [{"estimator": Ridge(), "window": "row", "targets": 0}]
