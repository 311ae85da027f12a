"""A window regressor with a known error, for tests of models that choose or weigh others.

On a panel that is a linear trend (every series grows by one per date), ``TrendShift``
forecasts the trend plus ``bias``: its error at every horizon is exactly ``bias``. Every
fit and forecast it makes is recorded in ``CALLS`` (the last target date a fit used, the
last origin a forecast used: on the trend, the values themselves are the dates), so a test
can check which dates a meta-estimator showed it.
"""

from skyield.base import BaseWindowRegressor

CALLS = []


class TrendShift(BaseWindowRegressor):
    """The trend forecast plus ``bias`` (its error is ``bias``); records what it sees."""

    _parameter_constraints = {
        **{name: BaseWindowRegressor._parameter_constraints[name]
           for name in ("window", "horizons", "targets")},
        "bias": [float],
    }

    def __init__(self, bias=0.0, *, window=None, horizons=None, targets=None):
        self.bias = bias
        self.window = window
        self.horizons = horizons
        self.targets = targets

    def _fit(self, X, y):
        CALLS.append(("fit", X[:, -1, 0].max() + self.horizons_.max(), X[:, -1, 0].copy(),
                      self.horizons_.copy()))

    def _predict(self, X):
        CALLS.append(("predict", X[:, -1, 0].max(), X[:, -1, 0].copy()))
        return X[:, -1, :][:, None, :] + self.horizons_[None, :, None] + self.bias
