"""Time-series splitters: scikit-learn CV objects that never shuffle and split by date.

scikit-learn's ``TimeSeriesSplit`` has no fixed-size sliding window and ignores ``groups``,
yet a stacked multi-family sample (several rows per date) must be split by date so that
every family is cut at the same date; sktime's splitters have the right semantics but not
the ``split(X, y, groups)`` / ``get_n_splits`` interface that ``GridSearchCV`` and
``cross_validate`` call. Hence these small classes.

Every splitter here splits *units*: the rows of ``X`` when ``groups`` is None, else the
unique values of ``groups`` (the origin dates of the rows) in sorted order; the indices
yielded are row indices of ``X`` in increasing order.

**Purging.** When the rows are windows whose targets lie ``h`` dates after their origin,
the last ``h - 1`` training rows before a test set have targets at or after its first
origin: their targets are test-period values. Given ``horizons``, the splitters drop
them (the gap becomes at least ``max(horizons) - 1``); without ``horizons``, a ``y``
with a horizon axis of several steps is an error rather than a silent leak.
"""

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import indexable

from skyield.utils import Interval, check_horizons, check_param

__all__ = [
    "ExpandingWindowSplit",
    "SktimeSplit",
    "SlidingWindowSplit",
    "gap_for_horizons",
]


def gap_for_horizons(horizons):
    """Smallest ``gap`` that keeps multi-step training targets from passing the test origins.

    When the rows of ``X`` are windows indexed by their forecast origin and a row's target
    lies ``h`` dates after its origin, the last training row (origin ``e``) has its target
    at ``e + h``. With ``gap`` dates dropped between training and test, the first test
    origin is ``e + gap + 1``, so ``gap >= h - 1`` puts every training target at or
    before the first test origin: nothing a training row uses is unknown when the test
    forecasts are made, and no training target is a test target. For several horizons
    the longest one decides.

    Parameters
    ----------
    horizons : int or sequence of int
        Forecast horizons in steps of the data's frequency. An int ``h`` means horizons
        ``1 .. h``, as in :func:`skyield.preprocessing.make_windows`.

    Returns
    -------
    gap : int
        ``max(horizons) - 1``.

    Examples
    --------
    >>> from skyield.model_selection import gap_for_horizons
    >>> gap_for_horizons(1), gap_for_horizons([1, 6, 12])
    (0, 11)
    """
    values = check_horizons(horizons)
    if not values:
        raise ValueError(f"horizons must be positive integers, got {horizons!r}")
    return max(values) - 1


def _check_int(value, name, minimum, allow_none=False):
    constraints = [Interval(Integral, minimum, None)] + ([None] if allow_none else [])
    value = check_param(value, name, constraints)
    return None if value is None else int(value)


class _Units:
    """The units a splitter cuts (rows, or unique dates given as ``groups``)."""

    def __init__(self, X, groups):
        (X,) = indexable(X)
        n_samples = X.shape[0] if hasattr(X, "shape") else len(X)
        if groups is None:
            if isinstance(getattr(X, "index", None), pd.MultiIndex):
                raise ValueError(
                    "X has a MultiIndex (several rows per date): pass the origin date of "
                    "each row as groups so that the split is made by date"
                )
            self.codes = None
            self.n_units = n_samples
            index = getattr(X, "index", None)
            self.labels = index if isinstance(index, pd.Index) else pd.RangeIndex(n_samples)
            return
        groups = pd.Index(np.asarray(groups) if not isinstance(groups, pd.Index) else groups)
        if groups.ndim != 1 or len(groups) != n_samples:
            raise ValueError(
                f"groups must hold one date per row of X: got {len(groups)} groups for "
                f"{n_samples} rows"
            )
        codes, uniques = pd.factorize(groups, sort=True)
        if (codes < 0).any():
            row = int(np.flatnonzero(codes < 0)[0])
            raise ValueError(f"groups has a missing value at row {row}")
        self.codes = codes
        self.n_units = len(uniques)
        self.labels = pd.Index(uniques)

    def rows(self, units):
        """Row indices (sorted) of the given unit indices."""
        units = np.asarray(units, dtype=int)
        if self.codes is None:
            return units
        return np.flatnonzero(np.isin(self.codes, units))


class _WindowSplit(BaseCrossValidator):
    # Request ``groups`` under metadata routing, as sklearn's group-aware splitters do.
    __metadata_request__split = {"groups": True}

    def split(self, X, y=None, groups=None):
        """Generate row indices of the training and test sets of each split.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples in time order; only their number is used (and the index of a
            DataFrame, to reject a MultiIndex without ``groups``).
        y : array-like of shape (n_samples, ...), default=None
            Ignored, exists for API compatibility.
        groups : array-like of shape (n_samples,), default=None
            Origin date of each row, for stacked samples with several rows per date
            (one per family). The split is then made on the sorted unique dates and
            every row of a date falls on the same side.

        Yields
        ------
        train : ndarray of shape (n_train,)
            Row indices of the training set, increasing.
        test : ndarray of shape (n_test,)
            Row indices of the test set, increasing.
        """
        units = _Units(X, groups)
        purge = self._purge(y)
        for train, test in self._split_units(units.n_units, purge):
            yield units.rows(train), units.rows(test)

    def _purge(self, y):
        """Training dates to drop before each test set: ``max(horizons) - 1``."""
        if self.horizons is not None:
            return max(check_horizons(self.horizons)) - 1
        if y is not None and np.ndim(y) == 3 and np.shape(y)[1] > 1:
            raise ValueError(
                f"y holds {np.shape(y)[1]} horizons (its second axis): pass horizons= to "
                f"{type(self).__name__} so that training rows whose targets fall after a "
                f"test origin are dropped"
            )
        return 0

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of splits, ``n_splits``.

        Parameters
        ----------
        X, y, groups : object
            Ignored, exist for API compatibility.

        Returns
        -------
        n_splits : int
        """
        return _check_int(self.n_splits, "n_splits", 1)

    def _split_units(self, n_units, purge):
        raise NotImplementedError


class ExpandingWindowSplit(_WindowSplit):
    """Expanding-window time-series splitter with a gap, never shuffled.

    The last ``n_splits * test_size`` dates are cut into ``n_splits`` consecutive test
    sets; each training set holds every date before its test set except the ``gap``
    dates just before it (and only the last ``max_train_size`` of them when set). This is
    scikit-learn's ``TimeSeriesSplit``, with ``groups`` read as the date of each row.

    Parameters
    ----------
    n_splits : int, default=5
        Number of splits, at least 1.
    test_size : int, default=None
        Dates per test set; ``n_dates // (n_splits + 1)`` when None.
    gap : int, default=0
        Dates dropped between the end of each training set and the start of its test
        set. When rows are windows whose targets lie ``h`` dates after their origin,
        ``gap >= h - 1`` keeps every training target at or before the first test
        origin; see :func:`gap_for_horizons`.
    max_train_size : int, default=None
        Largest number of dates in a training set (the most recent ones).
    horizons : int, sequence of int or None, default=None
        Steps ahead of the targets of the rows (``h`` means ``1 .. h``). The training
        rows whose targets would fall after the first test origin are dropped: the
        gap is at least ``max(horizons) - 1``. None: one-step targets, unless ``y``
        passed to :meth:`split` has a horizon axis of several steps, which is an error.

    See Also
    --------
    SlidingWindowSplit : training sets of a fixed size.
    gap_for_horizons : the gap needed for multi-step targets.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.model_selection import ExpandingWindowSplit
    >>> X = np.random.default_rng(0).normal(size=(10, 2))
    >>> for train, test in ExpandingWindowSplit(n_splits=3, test_size=2, gap=1).split(X):
    ...     print(train, test)
    [0 1 2] [4 5]
    [0 1 2 3 4] [6 7]
    [0 1 2 3 4 5 6] [8 9]

    With two families stacked (two rows per date), the split is made by date:

    >>> dates = np.repeat(np.arange(5), 2)
    >>> for train, test in ExpandingWindowSplit(n_splits=2, test_size=1).split(
    ...         np.zeros((10, 1)), groups=dates):
    ...     print(train, test)
    [0 1 2 3 4 5] [6 7]
    [0 1 2 3 4 5 6 7] [8 9]
    """

    def __init__(self, n_splits=5, *, test_size=None, gap=0, max_train_size=None,
                 horizons=None):
        self.n_splits = n_splits
        self.test_size = test_size
        self.gap = gap
        self.max_train_size = max_train_size
        self.horizons = horizons

    def _split_units(self, n_units, purge):
        n_splits = _check_int(self.n_splits, "n_splits", 1)
        gap = max(_check_int(self.gap, "gap", 0), purge)
        max_train_size = _check_int(self.max_train_size, "max_train_size", 1, allow_none=True)
        test_size = _check_int(self.test_size, "test_size", 1, allow_none=True)
        if test_size is None:
            test_size = n_units // (n_splits + 1)
            if test_size < 1:
                raise ValueError(
                    f"cannot make {n_splits} splits of {n_units} dates: the default "
                    f"test_size n_dates // (n_splits + 1) is 0"
                )
        first_test = n_units - n_splits * test_size
        if first_test - gap < 1:
            raise ValueError(
                f"{n_units} dates are too few for {n_splits} splits with test_size="
                f"{test_size} and gap={gap}: the first training set would be empty"
            )
        indices = np.arange(n_units)
        for test_start in range(first_test, n_units, test_size):
            train_end = test_start - gap
            train_start = 0 if max_train_size is None else max(0, train_end - max_train_size)
            yield indices[train_start:train_end], indices[test_start:test_start + test_size]


class SlidingWindowSplit(_WindowSplit):
    """Sliding-window time-series splitter: fixed-size training sets, a gap, no shuffling.

    Each training set holds the ``train_size`` dates that end ``gap`` dates before its
    test set; the ``n_splits`` test sets are consecutive and end at the last date.

    Parameters
    ----------
    n_splits : int, default=5
        Number of splits, at least 1.
    train_size : int
        Dates per training set.
    test_size : int, default=None
        Dates per test set. When None, the largest size for which the first training set
        starts at the first date or later: ``(n_dates - train_size - gap) // n_splits``.
    gap : int, default=0
        Dates dropped between the end of each training set and the start of its test
        set; see :func:`gap_for_horizons`.
    horizons : int, sequence of int or None, default=None
        Steps ahead of the targets of the rows; the gap is at least
        ``max(horizons) - 1`` (see :class:`ExpandingWindowSplit`).

    See Also
    --------
    ExpandingWindowSplit : training sets that grow.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.model_selection import SlidingWindowSplit
    >>> X = np.random.default_rng(0).normal(size=(10, 2))
    >>> for train, test in SlidingWindowSplit(n_splits=3, train_size=3, gap=1).split(X):
    ...     print(train, test)
    [0 1 2] [4 5]
    [2 3 4] [6 7]
    [4 5 6] [8 9]
    """

    def __init__(self, n_splits=5, *, train_size, test_size=None, gap=0, horizons=None):
        self.n_splits = n_splits
        self.train_size = train_size
        self.test_size = test_size
        self.gap = gap
        self.horizons = horizons

    def _split_units(self, n_units, purge):
        n_splits = _check_int(self.n_splits, "n_splits", 1)
        train_size = _check_int(self.train_size, "train_size", 1)
        gap = max(_check_int(self.gap, "gap", 0), purge)
        test_size = _check_int(self.test_size, "test_size", 1, allow_none=True)
        if test_size is None:
            test_size = (n_units - train_size - gap) // n_splits
            if test_size < 1:
                raise ValueError(
                    f"{n_units} dates are too few for {n_splits} splits after a training "
                    f"set of {train_size} dates and a gap of {gap}"
                )
        first_test = n_units - n_splits * test_size
        if first_test - gap - train_size < 0:
            raise ValueError(
                f"{n_units} dates are too few for {n_splits} splits with train_size="
                f"{train_size}, test_size={test_size} and gap={gap}: they need "
                f"{train_size + gap + n_splits * test_size}"
            )
        indices = np.arange(n_units)
        for test_start in range(first_test, n_units, test_size):
            train_end = test_start - gap
            yield indices[train_end - train_size:train_end], \
                indices[test_start:test_start + test_size]


def _is_sktime_splitter(obj):
    # Duck-typed so that checking never imports sktime.
    return callable(getattr(obj, "split_loc", None)) and \
        callable(getattr(obj, "get_cutoffs", None))


class SktimeSplit(BaseCrossValidator):
    """An sktime splitter as a scikit-learn CV object.

    sktime splitters (``ExpandingWindowSplitter``, ``SlidingWindowSplitter``,
    ``SingleWindowSplitter``, ...) split a time index into a training window and the test
    points ``cutoff + fh``. This adapter hands them the dates to split (the index of a
    DataFrame ``X``, ``0 .. n - 1`` for arrays, or the sorted unique ``groups``) and maps
    their positions back to rows of ``X``, so they work in ``GridSearchCV(cv=...)``,
    ``cross_validate`` and :func:`skyield.model_selection.backtest`. A split whose test
    set does not lie strictly after its training set (an in-sample ``fh``) is rejected.

    sktime is imported only when a split is made.

    Parameters
    ----------
    splitter : sktime splitter
        An instance of a subclass of ``sktime.split.base.BaseSplitter``.

    Examples
    --------
    >>> import numpy as np
    >>> from sktime.split import ExpandingWindowSplitter
    >>> from skyield.model_selection import SktimeSplit
    >>> cv = SktimeSplit(ExpandingWindowSplitter(fh=[1, 2], initial_window=5, step_length=2))
    >>> X = np.random.default_rng(0).normal(size=(10, 2))
    >>> for train, test in cv.split(X):
    ...     print(train, test)
    [0 1 2 3 4] [5 6]
    [0 1 2 3 4 5 6] [7 8]
    """

    __metadata_request__split = {"groups": True}

    def __init__(self, splitter):
        self.splitter = splitter

    def _check_splitter(self):
        from sktime.split.base import BaseSplitter

        if not isinstance(self.splitter, BaseSplitter):
            raise TypeError(
                f"SktimeSplit needs an sktime splitter (sktime.split.base.BaseSplitter), "
                f"got {type(self.splitter).__name__}"
            )

    def split(self, X, y=None, groups=None):
        """Generate row indices of the training and test sets of each split.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, ...)
            Samples in time order. A DataFrame's index (when not a MultiIndex) is what
            the sktime splitter sees, so time-based window lengths work.
        y : array-like of shape (n_samples, ...), default=None
            Ignored, exists for API compatibility.
        groups : array-like of shape (n_samples,), default=None
            Origin date of each row for stacked multi-family samples; the splitter then
            splits the sorted unique dates.

        Yields
        ------
        train : ndarray of shape (n_train,)
            Row indices of the training set, increasing.
        test : ndarray of shape (n_test,)
            Row indices of the test set, increasing.
        """
        self._check_splitter()
        units = _Units(X, groups)
        for number, (train, test) in enumerate(self.splitter.split(units.labels)):
            train = np.asarray(train, dtype=int)
            test = np.asarray(test, dtype=int)
            if train.size == 0 or test.size == 0:
                raise ValueError(f"the sktime splitter gave an empty training or test set "
                                 f"in split {number}")
            if train.max() >= test.min():
                raise ValueError(
                    f"split {number} of the sktime splitter tests at position {test.min()} "
                    f"({units.labels[test.min()]!r}), not after its training set, which ends "
                    f"at position {train.max()}: use a forecasting horizon of positive steps"
                )
            yield units.rows(np.sort(train)), units.rows(np.sort(test))

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of splits the sktime splitter makes on ``X``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, ...)
            Required: sktime counts splits on the data.
        y : object
            Ignored.
        groups : array-like of shape (n_samples,), default=None
            As in :meth:`split`.

        Returns
        -------
        n_splits : int
        """
        if X is None:
            raise ValueError("SktimeSplit.get_n_splits needs X: sktime counts splits on data")
        self._check_splitter()
        return int(self.splitter.get_n_splits(_Units(X, groups).labels))
