"""Windowing of a panel (dates x series) into model inputs and aligned targets.

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
    check_window,
    target_positions,
)


@dataclass(frozen=True)
class Windows:
    """Windows of a panel with their aligned targets.

    Attributes
    ----------
    X : ndarray of shape (n_samples, window, n_series)
        Inputs: levels, or first differences when ``differences=True``.
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
        Consecutive observations; a DataFrame's index gives the dates.
    window : int
        Number of dates in each window (the seeds' L+1 or P).
    horizons : int, sequence of int or None, default=1
        An int ``h`` means horizons ``1 .. h``; a sequence gives them explicitly (e.g.
        ``[1, 6, 12]``); None returns every window without targets.
    targets : label or list of labels, default=None
        Columns to forecast; all columns by default.
    differences : bool, default=False
        If True, inputs are first differences (``window`` differences, which use
        ``window + 1`` levels ending at the origin) and targets are changes since the
        origin, ``y[o + h] - y[o]``. Add ``last_level`` to get levels back.
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
    horizon_tuple = check_horizons(horizons)
    checked = check_panel(panel, name="panel", missing=missing, maturities=maturities)
    values = checked.values
    n_dates = values.shape[0]
    longest = horizon_tuple[-1] if horizon_tuple else 0
    first_origin = window - 1 + int(differences)
    n_samples = n_dates - first_origin - longest
    if n_samples < 1:
        needed = first_origin + longest + 1
        raise ValueError(
            f"panel has {n_dates} dates, but window={window}"
            f"{' with differences' if differences else ''} and horizon {longest} "
            f"need at least {needed}"
        )
    origins = np.arange(first_origin, first_origin + n_samples)
    source = np.diff(values, axis=0) if differences else values
    offset = 1 if differences else 0
    # Window i ends at the origin; in the differenced array row r holds values[r+1] - values[r].
    steps = origins[:, None] - offset - np.arange(window - 1, -1, -1)[None, :]
    X = source[steps]
    target_cols = target_positions(checked.columns, targets)
    last_level = values[origins][:, target_cols]
    y = target_dates = None
    if horizon_tuple:
        target_rows = origins[:, None] + np.asarray(horizon_tuple)[None, :]
        y = values[target_rows][:, :, target_cols]
        if differences:
            y = y - last_level[:, None, :]
        target_dates = _labels(checked.index, target_rows)
    return Windows(
        X=X, y=y, origins=_labels(checked.index, origins), target_dates=target_dates,
        last_level=last_level, horizons=horizon_tuple, series=list(checked.columns),
        targets=[checked.columns[i] for i in target_cols], maturities=checked.maturities,
    )


def _labels(index, positions):
    if index is None:
        return positions
    labels = np.asarray(index)[positions]
    if positions.ndim == 1:
        return pd.Index(labels, name=index.name)
    return labels


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
    window = check_window(window)
    panels = check_family_panel(panel, name="panel", missing=missing, maturities=maturities)
    parts = []
    for family in panels:
        frame = panel.xs(family, level=0)
        try:
            parts.append((family, make_windows(
                frame, window, horizons, targets=targets, differences=differences,
                missing=missing, maturities=maturities,
            )))
        except ValueError as error:
            raise ValueError(f"family {family!r}: {error}") from None
    families = np.concatenate([np.full(w.n_samples, f, dtype=object) for f, w in parts])
    origins = np.concatenate([np.asarray(w.origins) for _, w in parts])
    family_rank = np.concatenate([np.full(w.n_samples, i) for i, (_, w) in enumerate(parts)])
    order = np.lexsort((family_rank, origins))
    first = parts[0][1]

    def stack(attribute):
        arrays = [getattr(w, attribute) for _, w in parts]
        if arrays[0] is None:
            return None
        return np.concatenate([np.asarray(a) for a in arrays])[order]

    return Windows(
        X=stack("X"), y=stack("y"), origins=pd.Index(origins[order], name="date"),
        target_dates=stack("target_dates"), last_level=stack("last_level"),
        horizons=first.horizons, series=first.series, targets=first.targets,
        maturities=first.maturities, families=families[order],
    )
