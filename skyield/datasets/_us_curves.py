"""Loaders of the bundled U.S. Treasury curves: CMT par yields and the GSW zero-coupon curve.

Provenance, cleaning and caveats of both files are recorded in ``data/SOURCES.md``.
"""

import numpy as np
import pandas as pd

from skyield.utils._maturities import parse_maturities

from ._io import read_data_csv
from ._selection import check_bool, check_choice, date_bounds, select_maturities, slice_dates

FREQUENCIES = ("daily", "weekly", "monthly")

DATE_RULES = {
    "daily": "as published: one row per business day in the file",
    "weekly": (
        "last available value of each column within each Saturday-to-Friday week, "
        "dated by that week's Friday"
    ),
    "monthly": (
        "last available value of each column within each calendar month, dated by the "
        "last trading day of the month (the bundled monthly file)"
    ),
}

CMT_LABELS = ("1M", "3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y", "20Y", "30Y")
CMT_SOURCE = (
    "U.S. Department of the Treasury, daily par yield curve rates (constant-maturity "
    "Treasury yields, H.15; FRED series DGS1MO..DGS30); spliced from FRED downloads "
    "(1962-01-02..2021-01-04 and 2025-01-02..2026-02-20) and Treasury's own file "
    "(2021-01-05..2024-12-31), see skyield/datasets/data/SOURCES.md"
)
# Dates on which FRED carries a value that Treasury did not publish (SOURCES.md, section 1).
CMT_FRED_ONLY_PERIODS = {
    "20Y": ("1987-01-01", "1993-09-30"),
    "30Y": ("2002-02-19", "2006-02-08"),
}

GSW_LABELS = tuple(f"SVENY{n:02d}" for n in range(1, 31))
GSW_PARAMETERS = ("BETA0", "BETA1", "BETA2", "BETA3", "TAU1", "TAU2")
GSW_SOURCE = (
    "Board of Governors of the Federal Reserve System, 'The U.S. Treasury Yield Curve: "
    "1961 to the Present' (feds200628.csv); Gurkaynak, Sack and Wright (2007), Journal of "
    "Monetary Economics 54(8), 2291-2304; see skyield/datasets/data/SOURCES.md"
)


def weekly_last(daily):
    """Last available value of each column in each week ending Friday.

    Parameters
    ----------
    daily : DataFrame
        Rows indexed by a sorted DatetimeIndex.

    Returns
    -------
    weekly : DataFrame
        One row per Saturday-to-Friday week that holds at least one row of ``daily``,
        indexed by the week's Friday (even when that Friday has no row, e.g. a holiday).
        Each column takes its own last non-missing value in the week, so two columns may
        come from different days; a column with no value in the week is NaN.
    """
    weeks = daily.resample("W-FRI", label="right", closed="right")
    weekly = weeks.last()
    weekly = weekly.loc[weeks.size().to_numpy() > 0]
    weekly.index = pd.DatetimeIndex(weekly.index, name="date")
    return weekly


def _curve_frame(raw, labels, requested, what, freq):
    """Select, order and aggregate maturity columns of a daily or monthly yield file."""
    years = parse_maturities(labels)
    order = np.argsort(years, kind="stable")
    years, labels = years[order], [labels[i] for i in order]
    positions = select_maturities(requested, years, labels, what)
    labels = [labels[i] for i in positions]
    frame = raw[labels].astype("float64")
    if freq == "weekly":
        frame = weekly_last(frame)
    frame.columns = pd.Index(years[positions], dtype="float64", name="maturity")
    frame.index.name = "date"
    return frame, labels


def _finish(frame, start, end, what, attrs):
    frame = slice_dates(frame, start, end, what)
    frame.attrs = dict(attrs)
    return frame


def load_treasury_cmt(freq="daily", *, start=None, end=None, maturities=None,
                      observed_only=False):
    """Load U.S. Treasury constant-maturity (CMT) par yields, 1962 to 2026.

    The CMT yields are par (bond-equivalent) yields in percent, as published by the
    U.S. Department of the Treasury and distributed by FRED as DGS1MO .. DGS30. The bundled
    history runs from 1962-01-02 to 2026-02-20 (daily) and 1962-01 to 2026-01 (monthly).
    Provenance and the three sources spliced together are recorded in
    ``skyield/datasets/data/SOURCES.md``.

    Parameters
    ----------
    freq : {"daily", "weekly", "monthly"}, default="daily"
        - ``"daily"``: the data as published, one row per business day.
        - ``"weekly"``: for each Saturday-to-Friday week that has data, the last available
          value of each column in that week, dated by the week's Friday (even when the
          Friday is a holiday). Each column takes its own last value, so after a missing
          day two columns may come from different days.
        - ``"monthly"``: the bundled monthly file, which holds the last available daily
          value of each column in each calendar month, dated by the last trading day of
          the month (FRED's "end of period" aggregation). February 2026 is a partial month
          and is not included.
    start, end : str or datetime-like, default=None
        Inclusive bounds on the returned dates (applied after weekly aggregation). A
        string is read at its own resolution, as in pandas' partial-string indexing:
        ``end="2013"`` includes all of 2013.
    maturities : str, float or sequence of them, default=None
        Maturities to return, as labels (``"3M"``, ``"10Y"``, ``"DGS10"``) or numbers of
        years (``0.25``, ``10``). ``None`` returns all eleven: 1M, 3M, 6M, 1Y, 2Y, 3Y, 5Y,
        7Y, 10Y, 20Y and 30Y.
    observed_only : bool, default=False
        If True, blank (set to NaN) the values that FRED carries but Treasury did not
        publish: 20Y from 1987-01-01 to 1993-09-30 and 30Y from 2002-02-19 to 2006-02-08.
        A value is blanked when its returned date lies in the period: the business day
        for daily data, the week's Friday for weekly data and the month's last trading
        day for monthly data. On the bundled data, no kept weekly or monthly value comes
        from a day inside those periods.

    Returns
    -------
    yields : DataFrame of shape (n_dates, n_maturities)
        Float64 yields in percent. Index: DatetimeIndex named ``"date"``. Columns:
        maturities in years (float, ascending; ``1/12`` for 1M). ``attrs`` holds
        ``"dataset"``, ``"labels"`` (the file's labels of the columns), ``"source"``,
        ``"units"`` (``"percent"``), ``"curve_type"`` (``"par"``), ``"compounding"``,
        ``"frequency"``, ``"date_rule"`` and ``"observed_only"``.

    Raises
    ------
    ValueError
        For an unknown ``freq``, an unknown or repeated maturity (the message lists the
        available ones), an invalid date, ``start`` after ``end``, or a span with no dates.
    TypeError
        For arguments of the wrong type.

    Notes
    -----
    Missing values are left as NaN, never filled. By design of the sources:

    - 1M starts on 2001-07-31; 3M and 6M on 1981-09-01; 2Y on 1976-06-01; 7Y on
      1969-07-01; 30Y on 1977-02-15. 1Y, 5Y, 10Y and 20Y have no gaps.
    - **3Y and 7Y end on 2024-12-31**: no public copy of those two series after 2024 was
      found, so they are NaN from 2025-01-02 on. Restrict spans accordingly when these
      maturities are used (``end="2024"``). In weekly data their last value is dated
      2025-01-03, the Friday of the week holding 2024-12-31, while the other columns
      of that row come from 2025-01-03 itself.
    - The 20Y (1987-01-01 .. 1993-09-30) and 30Y (2002-02-19 .. 2006-02-08) values of
      those periods are FRED's, not Treasury's (apparently Treasury/Fed estimates such as
      the extrapolation factors published while the 30-year bond was suspended). They are
      kept unless ``observed_only=True``.

    Examples
    --------
    >>> from skyield.datasets import load_treasury_cmt
    >>> cmt = load_treasury_cmt("weekly", start="2000", end="2024",
    ...                         maturities=["1M", "3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y"])
    >>> cmt.columns.tolist()[1:]
    [0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.0]
    >>> float(load_treasury_cmt(maturities="10Y").loc["2013-06-28", 10.0])
    2.52
    """
    freq = check_choice(freq, "freq", FREQUENCIES)
    observed_only = check_bool(observed_only, "observed_only")
    date_bounds(start, end)
    name = "us_treasury_cmt_monthly.csv" if freq == "monthly" else "us_treasury_cmt_daily.csv"
    frame, labels = _curve_frame(
        read_data_csv(name), list(CMT_LABELS), maturities, "U.S. Treasury CMT", freq
    )
    if observed_only:
        for label, (first, last) in CMT_FRED_ONLY_PERIODS.items():
            if label in labels:
                inside = (frame.index >= first) & (frame.index <= last)
                frame.iloc[inside, labels.index(label)] = np.nan
    return _finish(frame, start, end, "U.S. Treasury CMT", {
        "dataset": "treasury_cmt",
        "labels": labels,
        "source": CMT_SOURCE,
        "units": "percent",
        "curve_type": "par",
        "compounding": "bond-equivalent (semi-annual) par yields",
        "frequency": freq,
        "date_rule": DATE_RULES[freq],
        "observed_only": observed_only,
    })


def load_gsw_zero(freq="daily", *, start=None, end=None, maturities=None, parameters=False):
    """Load the Gurkaynak-Sack-Wright (GSW) U.S. zero-coupon yield curve, 1961 to 2025.

    Zero-coupon yields at 1 to 30 years, continuously compounded, in percent, computed by
    the Federal Reserve Board from fitted Nelson-Siegel-Svensson curves (columns
    ``SVENY01`` .. ``SVENY30`` of ``feds200628.csv``). The bundled history runs from
    1961-06-14 to 2025-10-03 (daily) and 1961-06 to 2025-09 (monthly). Provenance is
    recorded in ``skyield/datasets/data/SOURCES.md``.

    Parameters
    ----------
    freq : {"daily", "weekly", "monthly"}, default="daily"
        Same rules as :func:`load_treasury_cmt`: daily as published; weekly = last
        available value of each column in each Saturday-to-Friday week, dated by the
        Friday; monthly = the bundled monthly file (the month's last trading day, whose
        values equal the last available daily values of the month). October 2025 is a
        partial month and is not included.
    start, end : str or datetime-like, default=None
        Inclusive bounds on the returned dates, read as in :func:`load_treasury_cmt`.
    maturities : str, float or sequence of them, default=None
        Labels (``"SVENY05"``, ``"5Y"``) or numbers of years (1 .. 30). ``None`` returns
        all thirty.
    parameters : bool, default=False
        If True, return the Nelson-Siegel-Svensson parameters ``BETA0`` .. ``BETA3``
        (percent) and ``TAU1``, ``TAU2`` (years) instead of the yields. They are bundled
        only in the monthly file and **only for 2022-10 .. 2025-09** (36 month-ends);
        every earlier row is NaN. Requires ``freq="monthly"`` and ``maturities=None``.
        Some published sets have ``TAU1`` close to ``TAU2`` with large offsetting
        ``BETA2``/``BETA3``; they are returned exactly as the Fed published them.

    Returns
    -------
    yields : DataFrame of shape (n_dates, n_maturities)
        Float64 yields in percent, DatetimeIndex named ``"date"``, columns the maturities
        in years (1.0 .. 30.0, ascending), with ``attrs`` as in :func:`load_treasury_cmt`
        (``"curve_type"`` is ``"zero"``). With ``parameters=True``, the columns are the
        six parameter names and ``attrs["units"]`` maps each to its unit.

    Raises
    ------
    ValueError
        For an unknown ``freq``, an unknown maturity, ``parameters=True`` with a
        frequency other than monthly or with ``maturities``, an invalid date, ``start``
        after ``end``, or a span with no dates.
    TypeError
        For arguments of the wrong type.

    Notes
    -----
    The Fed publishes yields only up to the longest outstanding maturity, so the long
    end starts later: 1-7 years on 1961-06-14, 8-10 years on 1971-08-16, 11-15 years on
    1971-11-15, 16-20 years on 1981-07-02 and 21-30 years on 1985-11-25. Earlier values
    are NaN, never extrapolated. The data are a staff research product, not an official
    statistical release, and the Fed revises history without notice.

    Examples
    --------
    >>> from skyield.datasets import load_gsw_zero
    >>> gsw = load_gsw_zero("monthly", start="2013-04", end="2013-06", maturities=10)
    >>> gsw[10.0].round(2).tolist()
    [1.74, 2.25, 2.64]
    """
    freq = check_choice(freq, "freq", FREQUENCIES)
    parameters = check_bool(parameters, "parameters")
    date_bounds(start, end)
    if parameters:
        if freq != "monthly":
            raise ValueError(
                f"the GSW Nelson-Siegel-Svensson parameters are bundled only in the monthly "
                f"file; use freq='monthly' with parameters=True (got freq={freq!r})"
            )
        if maturities is not None:
            raise ValueError("maturities cannot be combined with parameters=True")
        frame = read_data_csv("gsw_zero_monthly.csv")[list(GSW_PARAMETERS)].astype("float64")
        frame.columns = pd.Index(GSW_PARAMETERS, name="parameter")
        return _finish(frame, start, end, "GSW parameter", {
            "dataset": "gsw_zero",
            "labels": list(GSW_PARAMETERS),
            "source": GSW_SOURCE,
            "units": {**{f"BETA{i}": "percent" for i in range(4)},
                      "TAU1": "years", "TAU2": "years"},
            "frequency": freq,
            "date_rule": DATE_RULES[freq],
            "available": "2022-10-31 .. 2025-09-30; earlier rows are NaN",
        })
    name = "gsw_zero_monthly.csv" if freq == "monthly" else "gsw_zero_daily.csv"
    frame, labels = _curve_frame(
        read_data_csv(name), list(GSW_LABELS), maturities, "GSW zero-coupon", freq
    )
    return _finish(frame, start, end, "GSW zero-coupon", {
        "dataset": "gsw_zero",
        "labels": labels,
        "source": GSW_SOURCE,
        "units": "percent",
        "curve_type": "zero",
        "compounding": "continuous",
        "frequency": freq,
        "date_rule": DATE_RULES[freq],
    })
