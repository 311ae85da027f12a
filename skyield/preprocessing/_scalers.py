"""Scalers for panels and windows, fitted on a training span only.

Unlike scikit-learn's ``MinMaxScaler`` and ``StandardScaler`` these accept windows
``(n_samples, window, n_series)`` as well as panels ``(n_dates, n_series)`` (statistics per
series, over every other axis; ``transform`` expects the layout ``fit`` saw), can pool all series into one statistic (``scope="global"``, as when all maturities of a
yield curve share one min-max range), and never clip values outside the training range:
out-of-sample data may leave ``[0, 1]`` and is transformed, not altered. A DataFrame goes
through the data intake of every panel (:func:`skyield.utils.check_panel`: dates in
order and evenly spaced, numbers only; yields that look like decimals warned about in
``fit``); arrays follow the same numeric rule (no text, however numeric it reads).
"""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from skyield.utils.validation import check_numeric, check_panel, check_units

_SCOPES = ("column", "global")


class _SeriesScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    @classmethod
    def get_test_params(cls):
        """Small parameter sets for the common estimator checks."""
        return [{}, {"scope": "global"}]

    def _check_scope(self):
        if self.scope not in _SCOPES:
            raise ValueError(f"scope must be one of {_SCOPES}, got {self.scope!r}")

    @staticmethod
    def _intake(X):
        """The panel checks of a DataFrame (returned as a Panel), the numeric rule else."""
        if isinstance(X, pd.DataFrame) and not isinstance(X.index, pd.MultiIndex):
            return check_panel(X, name="X", missing="allow")
        check_numeric(X, "X")
        return None

    def _as_array(self, X, reset):
        panel = self._intake(X)
        if reset and panel is not None and panel.curve:
            check_units(panel.values, name="X")
        X = validate_data(self, X, reset=reset, allow_nd=True, dtype=np.float64,
                          ensure_all_finite="allow-nan")
        if X.ndim > 3:
            raise ValueError(f"X must be 2-D or 3-D, got shape {X.shape}")
        return X

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _check_observed_columns(self, X):
        empty = np.flatnonzero(np.isnan(X.reshape(-1, X.shape[-1])).all(axis=0))
        if empty.size:
            column = int(empty[0])
            names = getattr(self, "feature_names_in_", None)
            label = f" ({names[column]!r})" if names is not None else ""
            raise ValueError(
                f"X column {column}{label} has no observed value to learn its scale from "
                f"(every value is missing); drop the column or use scope='global'"
            )

    def _reduce_axes(self, X):
        return tuple(range(X.ndim)) if self.scope == "global" else tuple(range(X.ndim - 1))

    def _check_series(self, X):
        if X.shape[-1] != self.n_series_in_:
            raise ValueError(
                f"X has {X.shape[-1]} series but the scaler was fitted on {self.n_series_in_}"
            )

    def fit(self, X, y=None):
        """Learn the scaling statistics from ``X`` (the training span only).

        Parameters
        ----------
        X : array-like of shape (n_dates, n_series) or (n_samples, window, n_series)
            Training data; NaN values are ignored in the statistics, but with
            ``scope="column"`` every series needs one observed value.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        self._check_scope()
        X = self._as_array(X, reset=True)
        if X.size == 0 or np.isnan(X).all():
            raise ValueError("X has no observed values to fit the scaler on")
        if self.scope == "column":
            self._check_observed_columns(X)
        self.n_series_in_ = X.shape[-1]
        self._fit_statistics(X, self._reduce_axes(X))
        return self

    def transform(self, X):
        """Scale ``X`` with the statistics learned in ``fit``.

        Parameters
        ----------
        X : array-like of the same layout as in ``fit``

        Returns
        -------
        X_scaled : ndarray of the same shape
        """
        check_is_fitted(self)
        X = self._as_array(X, reset=False)
        self._check_series(X)
        return (X - self.offset_) / self.scale_

    def inverse_transform(self, X):
        """Map scaled values back to the original units (exact inverse of ``transform``).

        Parameters
        ----------
        X : array-like of the same layout as in ``fit``

        Returns
        -------
        X_original : ndarray of the same shape
        """
        check_is_fitted(self)
        X = self._as_array(X, reset=False)
        self._check_series(X)
        return X * self.scale_ + self.offset_

    def inverse_transform_scale(self, width):
        """Map a scaled width or standard deviation back to original units (no offset)."""
        check_is_fitted(self)
        return np.asarray(width, dtype=np.float64) * self.scale_


class SeriesMinMaxScaler(_SeriesScaler):
    """Min-max scaling to ``feature_range`` with statistics from the training span only.

    Parameters
    ----------
    feature_range : tuple of (float, float), default=(0.0, 1.0)
        Range that the training span's minimum and maximum are mapped to.
    scope : {"column", "global"}, default="column"
        ``"column"``: one minimum and maximum per series; ``"global"``: one pair over all
        series (keeps the shape of a yield curve intact).

    Attributes
    ----------
    data_min_, data_max_ : ndarray of shape (n_series,) or float
        Training minimum and maximum.
    offset_, scale_ : ndarray or float
        ``transform(X) = (X - offset_) / scale_``.

    References
    ----------
    Richman, R. and Scognamiglio, S. (2024). Multiple yield curve modeling and forecasting
    using deep learning. ASTIN Bulletin, section 5 (min-max scaling of the yields).

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.preprocessing import SeriesMinMaxScaler
    >>> scaler = SeriesMinMaxScaler().fit(np.array([[1.0], [3.0]]))
    >>> scaler.transform(np.array([[2.0], [5.0]])).ravel()
    array([0.5, 2. ])
    """

    def __init__(self, feature_range=(0.0, 1.0), scope="column"):
        self.feature_range = feature_range
        self.scope = scope

    def _fit_statistics(self, X, axes):
        low, high = (float(v) for v in self.feature_range)
        if not high > low:
            raise ValueError(f"feature_range must be increasing, got {self.feature_range!r}")
        self.data_min_ = np.nanmin(X, axis=axes)
        self.data_max_ = np.nanmax(X, axis=axes)
        span = self.data_max_ - self.data_min_
        # A constant series keeps its scale (span 1) rather than dividing by zero.
        span = np.where(span > 0, span, 1.0)
        self.scale_ = span / (high - low)
        self.offset_ = self.data_min_ - low * self.scale_


class SeriesStandardScaler(_SeriesScaler):
    """Standardisation to zero mean and unit variance using the training span only.

    Parameters
    ----------
    scope : {"column", "global"}, default="column"
        One mean and standard deviation per series, or one pair over all series.
    ddof : int, default=0
        Delta degrees of freedom of the standard deviation.

    Attributes
    ----------
    mean_, std_ : ndarray of shape (n_series,) or float
        Training statistics (``offset_`` and ``scale_`` are the same values).
    """

    def __init__(self, scope="column", ddof=0):
        self.scope = scope
        self.ddof = ddof

    def _fit_statistics(self, X, axes):
        self.mean_ = np.nanmean(X, axis=axes)
        std = np.nanstd(X, axis=axes, ddof=self.ddof)
        self.std_ = np.where(std > 0, std, 1.0)
        self.offset_ = self.mean_
        self.scale_ = self.std_
