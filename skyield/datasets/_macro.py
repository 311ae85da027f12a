"""Loaders of the bundled macro data: FRED-MD coincident indicators and NBER recession dates.

The FRED-MD transformation codes are those of McCracken and Ng (2016), applied as in the
FRED-MD reference code (log differences without a factor of 100).
"""

import numpy as np
import pandas as pd

from ._io import read_data_csv
from ._selection import check_bool, check_choice, date_bounds, slice_dates

COINCIDENT_SERIES = ("INDPRO", "CMRMTSPLx", "W875RX1", "AWHMAN")
COINCIDENT_SOURCE = (
    "FRED-MD monthly database for macroeconomic research, Federal Reserve Bank of St. Louis "
    "(vintage of about 2025-05); McCracken and Ng (2016), Journal of Business & Economic "
    "Statistics 34(4), 574-589; see skyield/datasets/data/SOURCES.md"
)
COINCIDENT_UNITS = {
    "INDPRO": "index, 2017=100",
    "CMRMTSPLx": "real manufacturing and trade sales (FRED-MD units)",
    "W875RX1": "billions of chained dollars, annual rate",
    "AWHMAN": "hours",
}
INCOMPLETE_RULES = ("keep", "drop_edges", "raise")
NBER_SOURCE = (
    "National Bureau of Economic Research, Business Cycle Dating Committee, U.S. business "
    "cycle expansions and contractions"
)


def apply_tcode(series, tcode):
    """Apply one FRED-MD transformation code to a monthly series.

    Parameters
    ----------
    series : Series
        Levels, in date order.
    tcode : int
        1 level; 2 first difference; 3 second difference; 4 log; 5 first difference of
        the log; 6 second difference of the log; 7 first difference of the growth rate
        ``x_t / x_{t-1} - 1``. Differences are plain differences (no factor of 100) and
        the result at ``t`` uses ``t`` and the months before it; the first one or two
        months are NaN.

    Returns
    -------
    transformed : Series of float64

    Raises
    ------
    ValueError
        For an unknown code, or a log of a non-positive value (naming the date).
    """
    values = series.astype("float64")
    if tcode in (4, 5, 6):
        bad = values.le(0)
        if bad.any():
            raise ValueError(
                f"{series.name}: tcode {tcode} takes logs but the value on "
                f"{values.index[bad.to_numpy()][0]:%Y-%m-%d} is not positive"
            )
        values = np.log(values)
    if tcode in (1, 4):
        return values
    if tcode in (2, 5):
        return values.diff()
    if tcode in (3, 6):
        return values.diff().diff()
    if tcode == 7:
        return (values / values.shift(1) - 1.0).diff()
    raise ValueError(f"{series.name}: unknown FRED-MD transformation code {tcode!r}; use 1..7")


def _apply_incomplete_rule(frame, incomplete):
    """Handle rows with missing values by the rule ``incomplete``; return (frame, dropped)."""
    complete = frame.notna().all(axis=1).to_numpy()
    if complete.all() or incomplete == "keep":
        return frame, []
    if incomplete == "raise":
        gaps = [f"{column} on {', '.join(f'{d:%Y-%m}' for d in frame.index[frame[column].isna()])}"
                for column in frame.columns if frame[column].isna().any()]
        raise ValueError(
            "missing values in the coincident indicators: " + "; ".join(gaps)
            + "; pass incomplete='drop_edges' to drop leading and trailing incomplete months"
        )
    if not complete.any():
        raise ValueError("no month has all four coincident indicators")
    first, last = np.flatnonzero(complete)[[0, -1]]
    inner = frame.iloc[first:last + 1]
    if inner.isna().any().any():
        dates = inner.index[inner.isna().any(axis=1).to_numpy()]
        raise ValueError(
            "incomplete='drop_edges' drops only leading and trailing incomplete months, but "
            f"months inside the span are incomplete: {', '.join(f'{d:%Y-%m}' for d in dates)}"
        )
    dropped = [f"{d:%Y-%m-%d}" for d in frame.index[:first].append(frame.index[last + 1:])]
    return inner, dropped


def load_coincident_indicators(*, transform=False, incomplete="keep", start=None, end=None):
    """Load the four FRED-MD coincident indicators of the U.S. business cycle, 1959 to 2025.

    The Stock-Watson coincident series, monthly from 1959-01 to 2025-04, taken from a
    FRED-MD vintage of about 2025-05 (provenance in ``skyield/datasets/data/SOURCES.md``):

    - ``INDPRO``: industrial production index (2017=100), tcode 5;
    - ``CMRMTSPLx``: real manufacturing and trade industries sales, tcode 5;
    - ``W875RX1``: real personal income excluding current transfer receipts, tcode 5;
    - ``AWHMAN``: average weekly hours, production and nonsupervisory employees,
      manufacturing, tcode 1.

    Parameters
    ----------
    transform : bool, default=False
        If False, return levels exactly as published. If True, apply each series'
        FRED-MD transformation code: 5 = first difference of the natural log,
        ``log(x_t) - log(x_{t-1})`` (a fraction, **not** multiplied by 100), dated ``t``;
        1 = the level unchanged. The transformation is applied on the full history before
        ``start``/``end`` are applied. Nothing is standardised here: scale with a scaler
        fit on the training span only.
    incomplete : {"keep", "drop_edges", "raise"}, default="keep"
        What to do with months where a value is missing. In the bundled data these are
        the last month, 2025-04, where ``CMRMTSPLx`` is not yet published (the ragged
        edge), and, with ``transform=True``, the first month, 1959-01, which has no
        difference.

        - ``"keep"``: return every month; missing values stay NaN.
        - ``"drop_edges"``: drop the leading and trailing months that miss any series,
          and list them in ``attrs["dropped_dates"]``. A missing value between complete
          months is never dropped: it raises a ValueError.
        - ``"raise"``: raise a ValueError naming each series and month with a missing value.

        The rule is applied to the months between ``start`` and ``end``.
    start, end : str or datetime-like, default=None
        Inclusive bounds on the dates (the first day of each month), read at the string's
        own resolution (``end="2024"`` includes 2024-12).

    Returns
    -------
    indicators : DataFrame of shape (n_months, 4)
        Float64 values, DatetimeIndex named ``"date"`` (first day of each month), columns
        ``INDPRO``, ``CMRMTSPLx``, ``W875RX1``, ``AWHMAN``. ``attrs`` holds
        ``"dataset"``, ``"source"``, ``"tcodes"``, ``"transform"``, ``"units"``,
        ``"frequency"`` and ``"dropped_dates"`` (ISO dates, empty unless rows were dropped).

    Raises
    ------
    ValueError
        For an unknown ``incomplete`` rule, missing values under ``incomplete="raise"``,
        an invalid date, ``start`` after ``end``, or a span with no months.
    TypeError
        For arguments of the wrong type.

    Notes
    -----
    FRED-MD revises history with every vintage; values differ slightly across vintages.

    Examples
    --------
    >>> from skyield.datasets import load_coincident_indicators
    >>> x = load_coincident_indicators(transform=True, incomplete="drop_edges")
    >>> x.attrs["dropped_dates"]
    ['1959-01-01', '2025-04-01']
    >>> x.index[[0, -1]].strftime("%Y-%m").tolist()
    ['1959-02', '2025-03']
    """
    transform = check_bool(transform, "transform")
    incomplete = check_choice(incomplete, "incomplete", INCOMPLETE_RULES)
    date_bounds(start, end)
    levels = read_data_csv("fredmd_coincident.csv")[list(COINCIDENT_SERIES)].astype("float64")
    codes = read_data_csv("fredmd_coincident_tcodes.csv", date_columns=(), index_col="series")
    tcodes = {name: int(codes.loc[name, "tcode"]) for name in COINCIDENT_SERIES}
    if transform:
        frame = pd.DataFrame({name: apply_tcode(levels[name], tcodes[name])
                              for name in COINCIDENT_SERIES})
        units = {name: ("log difference (fraction)" if tcodes[name] == 5
                        else COINCIDENT_UNITS[name]) for name in COINCIDENT_SERIES}
    else:
        frame, units = levels, dict(COINCIDENT_UNITS)
    frame.index.name = "date"
    frame.columns.name = "series"
    frame = slice_dates(frame, start, end, "coincident-indicator")
    frame, dropped = _apply_incomplete_rule(frame, incomplete)
    frame.attrs = {
        "dataset": "coincident_indicators",
        "source": COINCIDENT_SOURCE,
        "tcodes": tcodes,
        "transform": transform,
        "units": units,
        "frequency": "monthly",
        "dropped_dates": dropped,
    }
    return frame


def load_nber_recessions():
    """Load the NBER chronology of U.S. recessions since 1948.

    Returns
    -------
    recessions : DataFrame of shape (n_recessions, 2)
        Columns ``peak`` and ``trough`` (datetime64, the first day of the month), one row
        per recession in date order. By the NBER's convention the peak is the last month of
        the expansion and the trough the last month of the recession, so a recession runs
        from the month after ``peak`` through ``trough``. ``attrs["source"]`` names the
        source.

    Examples
    --------
    >>> from skyield.datasets import load_nber_recessions
    >>> rec = load_nber_recessions()
    >>> rec.iloc[-1].dt.strftime("%Y-%m").tolist()
    ['2020-02', '2020-04']
    """
    recessions = read_data_csv(
        "nber_recessions.csv", date_columns=("peak", "trough"), index_col=None
    )
    recessions.index.name = "recession"
    recessions.attrs = {
        "dataset": "nber_recessions",
        "source": NBER_SOURCE,
        "convention": "recession = month after peak through trough month",
    }
    return recessions
