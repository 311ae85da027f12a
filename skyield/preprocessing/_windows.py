"""The panel layer: windows of history and aligned targets, cut from a panel once.

A panel is a DataFrame of dates x series (or a 2-D array, whose rows are then
consecutive dates), or several curve families stacked with a (family, date) MultiIndex.
:class:`PanelWindows` cuts every window of every family once and hands out the windows a
task needs: those whose inputs and targets lie on given dates (a training span), those
ending at given origins (forecasts), or the last window of each family. Families are
windowed on their own (a window never mixes families) and stacked in date order, then
family order, so that splitting the stack by date splits every family at the same date.
:func:`make_windows` and :func:`make_family_windows` (the user-facing functions),
:func:`skyield.model_selection.backtest` and the sktime adapter all cut their windows
here.

Every window comes with its forecast origin (the date of its last row) and the dates of
its targets, so that forecasts can always be matched to the observations they predict.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from skyield.utils.validation import (
    check_family_panel,
    check_horizons,
    check_panel,
    check_units,
    check_window,
    target_positions,
)

__all__ = ["PanelWindows", "Windows", "make_family_windows", "make_windows"]


@dataclass(frozen=True)
class Windows:
    """Windows of a panel with their aligned targets.

    Attributes
    ----------
    X : ndarray of shape (n_samples, window, n_series)
        Inputs: levels, or the ``window - 1`` first differences inside each window when
        ``differences=True``.
    y : ndarray of shape (n_samples, n_horizons, n_targets) or None
        Targets at the requested horizons: levels, or the change since the origin when
        ``differences=True``. None when no horizons were requested.
    origins : pandas.Index or ndarray of shape (n_samples,)
        Forecast origin of each window: the date (or row position for arrays) of its
        last row.
    target_dates : ndarray of shape (n_samples, n_horizons) or None
        Date (or row position) of each target.
    last_level : ndarray of shape (n_samples, n_targets)
        Level of the target series at the origin, to turn changes back into levels.
    horizons : tuple of int
        The forecast horizons in steps of the panel's frequency.
    series : list
        Column labels of the input series.
    targets : list
        Column labels of the target series.
    maturities : ndarray of shape (n_series,) or None
        Maturities of the input series in years, when known.
    families : ndarray of shape (n_samples,) or None
        Family label of each window (multi-family panels only).
    """

    X: np.ndarray
    y: np.ndarray | None
    origins: object
    target_dates: object
    last_level: np.ndarray
    horizons: tuple
    series: list
    targets: list
    maturities: np.ndarray | None
    families: np.ndarray | None = None

    @property
    def n_samples(self):
        return self.X.shape[0]


class _Family:
    """One panel of the data (the whole panel, or one family of a stacked panel)."""

    def __init__(self, label, rank, frame, dates):
        self.label = label
        self.rank = rank
        self.frame = frame
        self.values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
        self.index = frame.index
        # Position of each of this family's rows among the dates of the whole panel.
        self.positions = dates.get_indexer(frame.index)

    def __len__(self):
        return self.values.shape[0]

    def prefix(self):
        """``"family 'X': "`` for error messages (empty for a panel without families)."""
        return "" if self.label is None else f"family {self.label!r}: "

    def show(self, row):
        value = self.index[row]
        if isinstance(value, pd.Timestamp) and value == value.normalize():
            return str(value.date())
        return str(value)


class PanelWindows:
    """Every window of a panel of one or several curve families, cut once.

    The panel goes through the data intake first (:func:`skyield.utils.check_panel`,
    for every family): its dates must be unique, increasing and evenly spaced at their
    frequency, its values numbers.

    Parameters
    ----------
    data : DataFrame of shape (n_dates, n_series) or array-like
        A panel: dates as a sorted index (a 2-D array's rows are consecutive dates), one
        column per series; or several families stacked with a (family, date)
        MultiIndex on a shared grid of columns.
    window : int
        Dates per window.
    horizons : int, sequence of int or None, default=None
        Steps ahead of the targets: ``h`` means ``1 .. h``; None cuts windows without
        targets.
    targets : label or list of labels, default=None
        Columns of the targets; all columns by default.
    missing : {"raise", "allow"}, default="raise"
        Missing-value policy of :func:`skyield.utils.check_panel`.
    maturities : array-like, "uniform" or None, default="uniform"
        Passed to the panel check; the default keeps column labels from being read as
        maturities (macro series have other labels).
    name : str, default="data"
        Name of the panel in error messages.

    Attributes
    ----------
    families : list of _Family
        The panel of every family (one, labelled None, without families).
    dates : pandas.Index
        The sorted union of every family's dates.
    columns : list
        Column labels.
    target_cols : list of int
        Positions of the target columns.
    multi : bool
        Whether the panel has families.
    maturities : ndarray or None
        Maturities of the columns in years, when they could be read.
    curve : bool
        Whether the series are yields (their labels read as maturities).
    frequency : str or None
        Frequency of the dates (of the first family), see
        :func:`skyield.utils.infer_frequency`.
    """

    def __init__(self, data, window, horizons=None, *, targets=None, missing="raise",
                 maturities="uniform", name="data"):
        self.window = check_window(window)
        self.horizons = check_horizons(horizons)
        if isinstance(data, pd.DataFrame) and isinstance(data.index, pd.MultiIndex):
            if data.index.nlevels == 2 and isinstance(data.index.levels[0], pd.DatetimeIndex) \
                    and not isinstance(data.index.levels[1], pd.DatetimeIndex):
                raise ValueError(
                    f"{name} has dates in the first level of its MultiIndex; it must be "
                    f"indexed by (family, date): use {name}.swaplevel().sort_index()"
                )
            panels = check_family_panel(data, name=name, missing=missing,
                                        maturities=maturities)
            labels = list(panels)
            frames = [data.xs(label, level=0) for label in labels]
            first = next(iter(panels.values()))
            self.multi = True
        else:
            if isinstance(data, pd.Series):
                data = data.to_frame()
            elif not isinstance(data, pd.DataFrame):
                values = np.asarray(data)
                data = pd.DataFrame(values[:, None] if values.ndim == 1 else values)
            first = check_panel(data, name=name, missing=missing, maturities=maturities)
            labels, frames, self.multi = [None], [data], False
        self.name = name
        self.maturities, self.curve, self.frequency = \
            first.maturities, first.curve, first.frequency
        dates = frames[0].index
        for frame in frames[1:]:
            dates = dates.union(frame.index)
        self.dates = dates
        self.columns = list(frames[0].columns)
        self.target_cols = target_positions(self.columns, targets)
        self.families = [_Family(label, rank, frame, dates)
                         for rank, (label, frame) in enumerate(zip(labels, frames))]

    @property
    def labels(self):
        return [family.label for family in self.families]

    def check_units(self):
        """Warn when the panel holds yields that look like decimals (see
        :func:`skyield.utils.check_units`); series that are not yields are not checked."""
        if self.curve:
            check_units(np.concatenate([family.values for family in self.families]),
                        name=self.name)

    # ------------------------------------------------------------------ cutting
    def _cut(self, family, origins):
        """Windows of ``family`` ending at the rows ``origins``: (n, window, n_series)."""
        lags = np.arange(self.window - 1, -1, -1)
        return family.values[origins[:, None] - lags[None, :]]

    def _targets(self, family, origins):
        rows = origins[:, None] + np.asarray(self.horizons)[None, :]
        return family.values[rows][:, :, self.target_cols], rows

    def training(self, dates=None):
        """Windows whose inputs and targets all lie on ``dates``, in date order.

        Parameters
        ----------
        dates : array-like of int, default=None
            Positions in :attr:`dates` of the dates that may be used; None for all.

        Returns
        -------
        windows : Windows or None
            Stacked by origin date, then family; None when no window qualifies.
        """
        longest = self.horizons[-1] if self.horizons else 0
        parts = []
        for family in self.families:
            origins = np.arange(self.window - 1, len(family) - longest)
            if dates is not None and origins.size:
                # Count the rows outside ``dates`` up to each row: a window is clean when
                # none lies between its first input and its last target.
                outside = np.concatenate([[0], np.cumsum(~np.isin(family.positions, dates))])
                clean = outside[origins + longest + 1] - outside[origins - self.window + 1] == 0
                origins = origins[clean]
            parts.append((family, origins))
        return self._stack(parts)

    def _stack(self, parts):
        order_keys, pieces = [], []
        for family, origins in parts:
            if origins.size == 0:
                continue
            X = self._cut(family, origins)
            last = family.values[origins][:, self.target_cols]
            if self.horizons:
                y, rows = self._targets(family, origins)
                target_dates = np.asarray(family.index)[rows]
            else:
                y = target_dates = None
            pieces.append((X, y, np.asarray(family.index)[origins], target_dates, last,
                           np.full(origins.size, family.label, dtype=object)))
            order_keys.append((family.positions[origins], np.full(origins.size, family.rank)))
        if not pieces:
            return None
        positions = np.concatenate([p for p, _ in order_keys])
        ranks = np.concatenate([r for _, r in order_keys])
        order = np.lexsort((ranks, positions))

        def stacked(k):
            if pieces[0][k] is None:
                return None
            return np.concatenate([piece[k] for piece in pieces])[order]

        origins = stacked(2)
        name = self.families[0].index.name
        return Windows(
            X=stacked(0), y=stacked(1),
            origins=pd.Index(origins, name=name or ("date" if self.multi else None)),
            target_dates=stacked(3), last_level=stacked(4), horizons=self.horizons,
            series=self.columns, targets=[self.columns[i] for i in self.target_cols],
            maturities=self.maturities, families=stacked(5) if self.multi else None,
        )

    def at_origins(self, origins_by_family):
        """Windows ending at given rows of every family, family after family.

        Parameters
        ----------
        origins_by_family : list of ndarray of int
            For every family (in order), rows of its own panel.

        Returns
        -------
        X : ndarray of shape (n_origins, window, n_series)
        families : ndarray of shape (n_origins,) or None
            Family label of each window (None without families).
        """
        X, labels = [], []
        for family, origins in zip(self.families, origins_by_family):
            origins = np.asarray(origins, dtype=int)
            if origins.size and origins.min() < self.window - 1:
                first = int(origins.min())
                raise ValueError(
                    f"{family.prefix()}origin {family.show(first)} has {first + 1} dates of "
                    f"history but a window needs {self.window}"
                )
            X.append(self._cut(family, origins))
            labels.append(np.full(origins.size, family.label, dtype=object))
        return np.concatenate(X), (np.concatenate(labels) if self.multi else None)

    def last(self):
        """The last window of every family.

        Returns
        -------
        X : ndarray of shape (n_families, window, n_series)
        families : ndarray of shape (n_families,) or None
        """
        for family in self.families:
            if len(family) < self.window:
                raise ValueError(
                    f"{family.prefix()}{len(family)} dates seen, but a forecast needs the "
                    f"last {self.window} (window={self.window})"
                )
        return self.at_origins([np.array([len(family) - 1]) for family in self.families])


def _to_changes(windows):
    """The same windows as first differences and changes since the origin."""
    if windows.X.shape[1] < 2:
        raise ValueError("differences=True needs windows of at least 2 dates")
    y = None if windows.y is None else windows.y - windows.last_level[:, None, :]
    return Windows(
        X=np.diff(windows.X, axis=1), y=y, origins=windows.origins,
        target_dates=windows.target_dates, last_level=windows.last_level,
        horizons=windows.horizons, series=windows.series, targets=windows.targets,
        maturities=windows.maturities, families=windows.families,
    )


def _positions_as_labels(windows):
    """For array panels, origins and target dates are row positions (plain arrays)."""
    return Windows(
        X=windows.X, y=windows.y, origins=np.asarray(windows.origins),
        target_dates=windows.target_dates, last_level=windows.last_level,
        horizons=windows.horizons, series=windows.series, targets=windows.targets,
        maturities=windows.maturities, families=windows.families,
    )


def make_windows(panel, window, horizons=1, *, targets=None, differences=False,
                 missing="raise", maturities=None):
    """Turn a panel into windows of history and targets at horizons ``h``.

    Window ``i`` holds rows ``i .. i + window - 1`` of the panel; its origin is row
    ``o = i + window - 1`` and its target at horizon ``h`` is row ``o + h``. Only windows
    whose every target lies inside the panel are returned (for forecasting from the end of
    a panel, call with ``horizons=None``).

    Parameters
    ----------
    panel : DataFrame of shape (n_dates, n_series) or array-like
        Consecutive observations; a DataFrame's index gives the dates, which must be
        unique, increasing and evenly spaced (see :func:`skyield.utils.check_dates`).
        Yields that look like decimals get a :class:`skyield.utils.UnitsWarning`.
    window : int
        Number of dates in each window (the seeds' L+1 or P).
    horizons : int, sequence of int or None, default=1
        An int ``h`` means horizons ``1 .. h``; a sequence gives them explicitly (e.g.
        ``[1, 6, 12]``); None returns every window without targets.
    targets : label or list of labels, default=None
        Columns to forecast; all columns by default.
    differences : bool, default=False
        Model the changes, as the models' ``differences=True`` does: inputs are the
        ``window - 1`` first differences inside each window and targets the changes since
        the origin, ``y[o + h] - y[o]``. Add ``last_level`` to get levels back.
    missing : {"raise", "allow"}, default="raise"
        Missing-value policy of :func:`skyield.utils.check_panel`.
    maturities : array-like, "uniform" or None, default=None
        Maturities in years, recorded on the result; parsed from DataFrame columns when
        None.

    Returns
    -------
    windows : Windows

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.preprocessing import make_windows
    >>> w = make_windows(np.arange(10.0)[:, None], window=3, horizons=[1, 2])
    >>> w.X.shape, w.y.shape
    ((6, 3, 1), (6, 2, 1))
    >>> w.X[0, :, 0], w.y[0, :, 0]
    (array([0., 1., 2.]), array([3., 4.]))
    """
    window = check_window(window)
    if isinstance(panel, pd.DataFrame) and isinstance(panel.index, pd.MultiIndex):
        raise ValueError("panel has a MultiIndex: use make_family_windows for several families")
    cut = PanelWindows(panel, window, horizons, targets=targets, missing=missing,
                       maturities=maturities, name="panel")
    cut.check_units()
    windows = cut.training()
    if windows is None:
        n_dates = len(cut.families[0])
        longest = cut.horizons[-1] if cut.horizons else 0
        raise ValueError(
            f"panel has {n_dates} dates, but window={window} and horizon {longest} need at "
            f"least {window + longest}"
        )
    if not isinstance(panel, (pd.DataFrame, pd.Series)):
        windows = _positions_as_labels(windows)
    return _to_changes(windows) if differences else windows


def make_family_windows(panel, window, horizons=1, *, targets=None, differences=False,
                        missing="raise", maturities=None):
    """Windows of every family of a multi-family panel, stacked in time order.

    Each family is windowed on its own (a window never mixes families or spans a gap
    between a family's rows), then windows are sorted by origin date and, within a date,
    by family in order of first appearance. Splitting the result by date is therefore
    splitting every family at the same date.

    Parameters
    ----------
    panel : DataFrame
        Indexed by a (family, date) MultiIndex, one column per maturity on a grid shared
        by all families.
    window, horizons, targets, differences, missing, maturities
        As in :func:`make_windows`.

    Returns
    -------
    windows : Windows
        With ``families`` set to each window's family label.
    """
    if not isinstance(panel, pd.DataFrame) or not isinstance(panel.index, pd.MultiIndex) \
            or panel.index.nlevels != 2:
        raise ValueError("panel must be a DataFrame indexed by a (family, date) MultiIndex")
    cut = PanelWindows(panel, window, horizons, targets=targets, missing=missing,
                       maturities=maturities, name="panel")
    cut.check_units()
    needed = cut.window + (cut.horizons[-1] if cut.horizons else 0)
    for family in cut.families:
        if len(family) < needed:
            raise ValueError(
                f"{family.prefix()}{len(family)} dates, but window={cut.window} and the "
                f"longest horizon need at least {needed}"
            )
    windows = cut.training()
    return _to_changes(windows) if differences else windows
