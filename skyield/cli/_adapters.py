"""Adapters that give the benchmark's sequence interface to models that lack it."""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone


class ProjectedFactorTransformer(BaseEstimator):
    """A :class:`~skyield.models.FactorTransformer` as a sequence forecaster.

    ``fit(Y)`` trains the transformer on a panel; ``update(Y)`` appends new dates without
    retraining; ``forecast(steps)`` rolls the window that ends at the last date seen
    forward ``steps`` times with :meth:`FactorTransformer.project` (each step feeds the
    predicted values back in), the seed's real-time "tentacle" projection.

    Parameters
    ----------
    transformer : FactorTransformer
        The unfitted model; it is cloned in ``fit``.
    differences : bool, default=True
        Model the changes between consecutive dates and add the projected changes to the
        last level seen. Yield levels drift far outside the range of the training span
        (which fixes the transformer's standardisation); their changes do not.
    """

    def __init__(self, transformer=None, differences=True):
        self.transformer = transformer
        self.differences = differences

    def fit(self, Y):
        """Train the transformer on the panel ``Y`` (a DataFrame of consecutive dates)."""
        if not isinstance(Y, pd.DataFrame):
            raise TypeError(f"Y must be a DataFrame of dates, got {type(Y).__name__}")
        self.model_ = clone(self.transformer).fit(self.model_input(Y))
        self.levels_ = Y.iloc[-(self.model_.window + 1):]
        return self

    def update(self, Y):
        """Append the dates of ``Y``, which follow the last date seen; no retraining."""
        if not isinstance(Y, pd.DataFrame) or list(Y.columns) != list(self.levels_.columns):
            raise ValueError("update needs a DataFrame with the columns seen in fit")
        if len(Y) and Y.index[0] <= self.levels_.index[-1]:
            raise ValueError(f"update starts at {Y.index[0]}, not after the last date seen "
                             f"({self.levels_.index[-1]})")
        self.levels_ = pd.concat([self.levels_, Y]).iloc[-(self.model_.window + 1):]
        return self

    def forecast(self, steps=1):
        """Projected values of the ``steps`` dates after the last date seen."""
        history = self.model_input(self.levels_).iloc[-self.model_.window:]
        projected = self.model_.project(history, steps=steps,
                                        origins=[len(history) - 1]).observables[0]
        if self.differences:
            return self.levels_.to_numpy()[-1] + np.cumsum(projected, axis=0)
        return np.asarray(projected)

    def model_input(self, Y):
        """The series the transformer sees for the panel ``Y``: its changes or itself."""
        return Y.diff().iloc[1:] if self.differences else Y
