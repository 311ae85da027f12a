"""One sequence model per curve family of a (family, date) panel."""

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import TransformerTags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from skyield.base import DEFAULT_COVERAGE, DEFAULT_QUANTILES, BaseSequenceModel
from skyield.utils import HasMethods, check_family_panel, validate_params

__all__ = ["PerFamily"]


def _has_families(Y):
    return isinstance(Y, pd.DataFrame) and isinstance(Y.index, pd.MultiIndex)


def _inner_has(method):
    def check(self):
        return callable(getattr(self.estimator, method, None))

    return check


class PerFamily(BaseSequenceModel):
    """A sequence model fitted to every curve family of a (family, date) panel.

    ``fit(Y)`` takes a DataFrame indexed by a (family, date) MultiIndex, one column per
    series on a grid shared by every family, and fits a clone of ``estimator`` on each
    family's own dates (families may cover different spans). A panel without families
    is one family: the model then behaves as ``estimator`` itself. Every other method works
    family by family and returns the families' results together: ``update`` and
    ``predict``/``predict_quantiles``/``predict_interval``/``score`` take a panel of the
    same form (the families it holds; each family's block follows that family's last
    date seen), ``forecast`` continues every family from its own last date, and
    ``transform`` (when the estimator has it) stacks the families' factors.

    Parameters
    ----------
    estimator : sequence model
        An unfitted :class:`skyield.base.BaseSequenceModel` (or any estimator with
        ``fit(Y)``, ``update`` and ``forecast``); cloned for every family.

    Attributes
    ----------
    estimators_ : dict of {family: estimator}
        The fitted model of every family, in order of first appearance.
    families_ : list
        Family labels, in that order.
    columns_ : list
        Column labels of the panel.
    n_features_in_ : int
        Number of series.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skyield.baselines import DynamicNelsonSiegel
    >>> from skyield.compose import PerFamily
    >>> from skyield.datasets import make_nelson_siegel_curves
    >>> maturities = [0.25, 1, 2, 5, 10, 30]
    >>> frames = {name: make_nelson_siegel_curves(n_dates=60, maturities=maturities,
    ...                                           random_state=seed).curves
    ...           for seed, name in enumerate(["EUR", "GBP"])}
    >>> panel = pd.concat(frames, names=["family", "date"])
    >>> model = PerFamily(DynamicNelsonSiegel()).fit(panel)
    >>> model.forecast(2).index.tolist()[:2]  # doctest: +ELLIPSIS
    [('EUR', Timestamp(...)), ('EUR', Timestamp(...))]
    """

    _parameter_constraints = {"estimator": [HasMethods("fit", "update", "forecast")]}

    def __init__(self, estimator):
        self.estimator = estimator

    # ------------------------------------------------------------------ panels
    @staticmethod
    def _frames(Y, name):
        """``{family: frame}`` of a (family, date) panel, in order of first appearance;
        ``{None: Y}`` for a panel without families."""
        if not _has_families(Y):
            return {None: Y}
        check_family_panel(Y, name=name, missing="allow", maturities="uniform")
        labels = list(pd.unique(Y.index.get_level_values(0)))
        return {label: Y.xs(label, level=0) for label in labels}

    def _fitted_frames(self, Y, name):
        check_is_fitted(self)
        frames = self._frames(Y, name)
        if list(frames) == [None] and self.families_ != [None]:
            raise ValueError(
                f"{name} must be indexed by (family, date): the model was fitted on families "
                f"{self.families_}"
            )
        unknown = [label for label in frames if label not in self.estimators_]
        if unknown:
            raise ValueError(
                f"{name} holds family {unknown[0]!r}, which was not seen in fit; fitted "
                f"families: {self.families_}"
            )
        if _has_families(Y) and list(Y.columns) != self.columns_:
            raise ValueError(
                f"{name} has columns {list(Y.columns)} but the model was fitted on "
                f"{self.columns_}"
            )
        return frames

    @staticmethod
    def _family_error(label, error):
        return type(error)(f"family {label!r}: {error}")

    # ------------------------------------------------------------------ fit and update
    def fit(self, Y, y=None):
        """Fit a clone of ``estimator`` on every family's dates.

        Parameters
        ----------
        Y : DataFrame
            Indexed by a (family, date) MultiIndex, one column per series.
        y : None
            Ignored.

        Returns
        -------
        self : PerFamily
        """
        validate_params(self)
        frames = self._frames(Y, "Y")
        self.estimators_ = {}
        for label, frame in frames.items():
            try:
                self.estimators_[label] = clone(self.estimator).fit(frame)
            except ValueError as error:
                raise self._family_error(label, error) from None
        self.families_ = list(frames)
        first = self.estimators_[self.families_[0]]
        self.columns_ = list(first.columns_) if hasattr(first, "columns_") else \
            list(getattr(Y, "columns", range(np.shape(Y)[1])))
        self.n_features_in_ = len(self.columns_)
        return self

    def update(self, Y_new):
        """Append observations to the families they hold (filtering only).

        Parameters
        ----------
        Y_new : DataFrame
            Indexed by (family, date); each family's dates follow its last date seen.

        Returns
        -------
        self : PerFamily
        """
        for label, frame in self._fitted_frames(Y_new, "Y_new").items():
            try:
                self.estimators_[label].update(frame)
            except ValueError as error:
                raise self._family_error(label, error) from None
        return self

    # ------------------------------------------------------------------ forecasts
    def forecast(self, steps=1, *, quantiles=None, coverage=None):
        """Forecasts of every family ``1 .. steps`` dates after its own last date seen.

        Parameters
        ----------
        steps : int, default=1
            Forecast horizon.
        quantiles : array-like of shape (n_quantiles,), default=None
            Return these quantiles instead of the mean.
        coverage : float, default=None
            Return the central interval of this coverage instead of the mean.

        Returns
        -------
        forecast : DataFrame of shape (n_families * steps, n_series), or ndarray
            The means, indexed by (family, date) in the order of ``families_``; with
            ``quantiles`` or ``coverage`` an ndarray of shape
            (n_families * steps, n_series, n_quantiles or 2) in the same row order.
        """
        check_is_fitted(self)
        parts = {label: model.forecast(steps, quantiles=quantiles, coverage=coverage)
                 for label, model in self.estimators_.items()}
        if self.families_ == [None]:
            return parts[None]
        if quantiles is None and coverage is None:
            first = next(iter(parts.values()))
            return pd.concat(parts, names=["family", first.index.name])
        return np.concatenate([np.asarray(p) for p in parts.values()])

    def _per_family(self, Y, method, **kwargs):
        """``method`` of every family's model on its rows of ``Y``, in ``Y``'s row order."""
        frames = self._fitted_frames(Y, "Y")
        if list(frames) == [None]:
            return np.asarray(getattr(self.estimators_[None], method)(Y, **kwargs), dtype=float)
        labels = Y.index.get_level_values(0)
        out = None
        for label, frame in frames.items():
            try:
                values = np.asarray(getattr(self.estimators_[label], method)(frame, **kwargs),
                                    dtype=float)
            except ValueError as error:
                raise self._family_error(label, error) from None
            if out is None:
                out = np.empty((len(Y),) + values.shape[1:])
            out[np.asarray(labels == label)] = values
        return out

    def predict(self, Y, *, horizon=1):
        """Forecast every date of a (family, date) block from the data before it.

        See :meth:`skyield.base.BaseSequenceModel.predict`; each family's rows follow
        that family's last date seen.

        Parameters
        ----------
        Y : DataFrame
            Indexed by (family, date).
        horizon : int, default=1
            Dates between each origin and the date it forecasts.

        Returns
        -------
        y_pred : DataFrame of shape (n_rows, n_series)
            Indexed like ``Y``.
        """
        values = self._per_family(Y, "predict", horizon=horizon)
        if isinstance(Y, pd.DataFrame):
            return pd.DataFrame(values, index=Y.index, columns=Y.columns)
        return values

    def predict_quantiles(self, Y, quantiles=DEFAULT_QUANTILES, *, horizon=1):
        """Quantile forecasts of every row of a (family, date) block.

        Parameters
        ----------
        Y : DataFrame
            Indexed by (family, date).
        quantiles : array-like of shape (n_quantiles,), default=(0.025, 0.5, 0.975)
            Strictly increasing levels in (0, 1).
        horizon : int, default=1
            Dates between each origin and the date it forecasts.

        Returns
        -------
        y_quantiles : ndarray of shape (n_rows, n_series, n_quantiles)
        """
        return self._per_family(Y, "predict_quantiles", quantiles=quantiles, horizon=horizon)

    def predict_interval(self, Y, coverage=DEFAULT_COVERAGE, *, horizon=1):
        """Central prediction intervals of every row of a (family, date) block.

        Parameters
        ----------
        Y : DataFrame
            Indexed by (family, date).
        coverage : float, default=0.95
            Nominal coverage, strictly inside (0, 1).
        horizon : int, default=1
            Dates between each origin and the date it forecasts.

        Returns
        -------
        y_interval : ndarray of shape (n_rows, n_series, 2)
        """
        return self._per_family(Y, "predict_interval", coverage=coverage, horizon=horizon)

    def score(self, Y, y=None, *, horizon=1):
        """Minus the mean squared forecast error over every family's rows of ``Y``.

        Parameters
        ----------
        Y : DataFrame
            Indexed by (family, date).
        y : None
            Ignored.
        horizon : int, default=1
            Forecast horizon in dates.

        Returns
        -------
        score : float
        """
        forecasts = self._per_family(Y, "predict", horizon=horizon)
        actual = np.asarray(Y, dtype=float)
        observed = np.isfinite(actual)
        return -float(np.mean((forecasts[observed] - actual[observed]) ** 2))

    @available_if(_inner_has("transform"))
    def transform(self, Y, **kwargs):
        """Every family's ``transform`` of its rows, stacked by (family, date).

        Parameters
        ----------
        Y : DataFrame
            Indexed by (family, date).
        **kwargs
            Passed to the estimator's ``transform`` (e.g. ``smooth=True``).

        Returns
        -------
        factors : DataFrame
            Indexed by (family, date), in the order of the families in ``Y``.
        """
        frames = self._fitted_frames(Y, "Y")
        if list(frames) == [None]:
            return self.estimators_[None].transform(Y, **kwargs)
        parts = {}
        for label, frame in frames.items():
            values = self.estimators_[label].transform(frame, **kwargs)
            parts[label] = values if isinstance(values, pd.DataFrame) else \
                pd.DataFrame(np.asarray(values), index=frame.index)
        return pd.concat(parts, names=["family", Y.index.names[1]])

    @available_if(_inner_has("transform"))
    def fit_transform(self, Y, y=None, **kwargs):
        """Fit, then :meth:`transform` the same panel.

        Parameters
        ----------
        Y : DataFrame
            Indexed by (family, date) (or a panel without families).
        y : None
            Ignored.
        **kwargs
            Passed to :meth:`transform`.

        Returns
        -------
        factors : DataFrame or ndarray
        """
        return self.fit(Y).transform(Y, **kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if callable(getattr(self.estimator, "transform", None)):
            tags.transformer_tags = TransformerTags()
        return tags

    @classmethod
    def get_test_params(cls):
        """Parameter sets for the common checks (arrays are one family)."""
        from skyield.baselines import KalmanFactorModel

        return [{"estimator": KalmanFactorModel(n_factors=1, maxiter=5)}]
