"""Panels as the sktime adapter sees them: families of dated frames, and their windows.

sktime hands the adapter either one frame (dates x series, mtype ``pd.DataFrame``) or a
panel with a (family, date) MultiIndex (mtype ``pd-multiindex``). Here both become an
ordered mapping ``{family: frame}`` (key None for a single frame), which the adapter keeps
as its history, extends on ``update`` and cuts into windows for window regressors.
"""

import numpy as np
import pandas as pd

from skyield.preprocessing import PanelWindows
from skyield.utils import check_dates
from skyield.utils._dates import show_date

__all__ = ["FamilyPanel", "check_sktime_dates"]


def check_sktime_dates(y, name="y"):
    """Check the dates of the data given to the adapter before sktime reads them.

    sktime's own conversion refuses unsorted dates, and stumbles on irregular ones, with
    errors that do not say which dates; here they get the intake's messages (see
    :func:`skyield.utils.check_dates`), per family for a (family, date) panel. Data
    without a date index is left to sktime.
    """
    if not isinstance(y, (pd.DataFrame, pd.Series)):
        return
    index = y.index
    if isinstance(index, pd.MultiIndex):
        if index.nlevels != 2:
            return
        for family in index.get_level_values(0).unique():
            check_dates(y.xs(family, level=0).index, name=f"{name} family {family!r}")
        return
    check_dates(index, name=name)


def _plain(value):
    """A numpy scalar as the Python value it holds (printed without its type)."""
    return value.item() if isinstance(value, np.generic) else value


def _check_repeated_rows(stored, repeated, label):
    """Check that the rows of an update dated within the stored span are stored as given.

    Raises
    ------
    ValueError
        Naming the first date of ``repeated`` that is not stored, or whose values differ
        from the stored ones, and the last stored date.
    """
    if not len(repeated):
        return
    where = "" if label is None else f"family {label!r}: "
    last = stored.index[-1]
    known = repeated.index.isin(stored.index)
    same = np.zeros(len(repeated), dtype=bool)
    if known.any():
        old = stored.loc[repeated.index[known]].to_numpy()
        new = repeated[known].to_numpy()
        equal = (old == new) | (pd.isna(old) & pd.isna(new))
        same[known] = equal.all(axis=1)
    if same.all():
        return
    row = int(np.flatnonzero(~same)[0])
    date = repeated.index[row]
    if known[row]:
        column = repeated.columns[int(np.flatnonzero(~equal[int(known[:row].sum())])[0])]
        what = (f"holds {_plain(repeated.iloc[row][column])!r} in column "
                f"{_plain(column)!r} where {_plain(stored.loc[date, column])!r} is stored")
    else:
        what = "is not a stored date"
    raise ValueError(
        f"{where}update has a row dated {show_date(date)}, on or before the last stored "
        f"date {show_date(last)}, that {what}; stored rows are never replaced and new "
        f"rows are never inserted among them: update with the dates after "
        f"{show_date(last)} only (rows equal to the stored ones are skipped), or fit "
        f"again on the corrected data"
    )


class FamilyPanel:
    """The series seen so far, one dated frame per family.

    Parameters
    ----------
    frames : dict of {label: DataFrame of shape (n_dates_f, n_series)}
        In family order (order of first appearance); key None for a single frame.
    index_names : list
        Names of the row index levels of the data sktime passed, restored on output.
    """

    def __init__(self, frames, index_names):
        self.frames = frames
        self.index_names = index_names

    @classmethod
    def from_sktime(cls, y):
        """Split sktime's inner ``y`` (``pd.DataFrame`` or ``pd-multiindex``) by family."""
        if isinstance(y.index, pd.MultiIndex):
            labels = list(y.index.get_level_values(0).unique())
            frames = {label: y.xs(label, level=0) for label in labels}
        else:
            frames = {None: y}
        return cls(frames, list(y.index.names))

    @property
    def labels(self):
        return list(self.frames)

    @property
    def multi(self):
        return list(self.frames) != [None]

    @property
    def columns(self):
        return list(next(iter(self.frames.values())).columns)

    def extend(self, new):
        """Return the panel with the rows of ``new`` appended after the last stored date.

        Stored rows are never replaced, and no row is slotted in among them: a row of
        ``new`` dated on or before its family's last stored date is accepted only when
        the same date is stored with exactly the same values (missing values matching
        missing values), and is then skipped as already seen. sktime passes such repeats
        itself: ``update_predict`` and ``evaluate`` with an expanding window hand the
        adapter the whole window seen so far at every step. Any other such row (new
        values for a stored date, or a date before, or between, the stored ones) is an
        error.

        Parameters
        ----------
        new : FamilyPanel
            Observations of families seen before.

        Returns
        -------
        panel : FamilyPanel
        new_rows : dict of {label: DataFrame}
            Per family, the rows dated after the last date it had before (possibly empty).

        Raises
        ------
        ValueError
            For a family not seen before, other columns, or a row dated on or before the
            last stored date that differs from the stored one (or is not stored), naming
            the first such date and the last stored date.
        """
        unknown = [label for label in new.labels if label not in self.frames]
        if unknown:
            raise ValueError(
                f"update holds family {unknown[0]!r}, which was not seen in fit; fitted "
                f"families: {self.labels}"
            )
        if new.columns != self.columns:
            raise ValueError(
                f"update has columns {new.columns} but the forecaster was fitted on "
                f"{self.columns}"
            )
        frames, new_rows = {}, {}
        for label, frame in self.frames.items():
            extra = new.frames.get(label)
            if extra is None or len(extra) == 0:
                frames[label] = frame
                new_rows[label] = frame.iloc[:0]
                continue
            last = frame.index[-1]
            seen = extra.index <= last
            _check_repeated_rows(frame, extra[seen], label)
            rows = extra[~seen]
            frames[label] = pd.concat([frame, rows]) if len(rows) else frame
            new_rows[label] = rows
        return FamilyPanel(frames, self.index_names), new_rows

    # -- windows ------------------------------------------------------------------------

    def _stacked(self):
        """The frames as one panel (a (family, date) MultiIndex with families)."""
        if not self.multi:
            return self.frames[None]
        return pd.concat(self.frames, names=["family", None])

    def training_windows(self, window, horizons):
        """Windows and targets of every family, in date order (then family order).

        Returns
        -------
        X : ndarray of shape (n_samples, window, n_series)
        y : ndarray of shape (n_samples, n_horizons, n_series)
        families : ndarray of shape (n_samples,) or None
        """
        cut = PanelWindows(self._stacked(), window, list(horizons), name="y")
        cut.check_units()
        for family in cut.families:
            needed = window + int(max(horizons))
            if len(family) < needed:
                raise ValueError(
                    f"{family.prefix()}y has {len(family)} dates, but window={window} and "
                    f"the longest step {int(max(horizons))} need at least {needed}"
                )
        windows = cut.training()
        return windows.X, windows.y, windows.families

    def last_windows(self, window):
        """The last ``window`` dates of every family.

        Returns
        -------
        levels : ndarray of shape (n_families, window, n_series)
        """
        return PanelWindows(self._stacked(), window).last()[0]

    def family_cutoffs(self):
        """The last date of every family, each as a one-element index."""
        return {label: frame.index[-1:] for label, frame in self.frames.items()}
