"""Loader of the bundled multi-country monthly curves (one curve family per publisher).

The file is in long format, one row per (month end, family); provenance of each family is
recorded in ``data/SOURCES.md``, section 4.
"""

import numpy as np
import pandas as pd

from skyield.utils._maturities import parse_maturities

from ._io import read_data_csv
from ._selection import (
    check_bool,
    check_choice,
    check_families,
    date_bounds,
    date_mask,
    format_maturity,
    select_maturities,
)

INTL_FILE = "intl_zero_curves_monthly.csv"
INTL_LABELS = (
    "3M", "6M", "1Y", "2Y", "3Y", "4Y", "5Y", "6Y", "7Y", "8Y", "9Y", "10Y",
    "15Y", "20Y", "25Y", "30Y",
)
_LONG = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0, 25.0, 30.0)

# The maturities each publisher provides exactly (no interpolation was done), in years.
FAMILIES = {
    "AUD_RBA": {
        "curve_type": "zero",
        "grid": (0.25, 0.5) + _LONG[:10],
        "publisher": "Reserve Bank of Australia, F17 zero-coupon interest rates",
    },
    "CAD_BOC": {
        "curve_type": "zero",
        "grid": (0.25, 0.5) + _LONG,
        "publisher": "Bank of Canada zero-coupon bond yields (via R package qrmdata)",
    },
    "CHF_SNB": {
        "curve_type": "zero",
        "grid": (2.0, 5.0, 10.0, 20.0),
        "publisher": "Swiss National Bank, spot rates on Swiss Confederation bond issues",
    },
    "EUR_AAA_ECB": {
        "curve_type": "zero",
        "grid": _LONG,
        "publisher": (
            "European Central Bank, euro-area AAA government yield curve (Svensson spot rates)"
        ),
    },
    "JPY_MOF": {
        "curve_type": "par",
        "grid": _LONG,
        "publisher": "Ministry of Finance Japan, JGB constant-maturity par yields",
    },
    "USD_GSW": {
        "curve_type": "zero",
        "grid": _LONG,
        "publisher": "Federal Reserve Board, Gurkaynak-Sack-Wright zero-coupon curve",
    },
}
CURVE_TYPES = ("zero", "par")


def international_curve_types():
    """Curve type of each family in :func:`load_international_curves`.

    Returns
    -------
    curve_types : dict of str to str
        Family name -> ``"zero"`` (zero-coupon yields) or ``"par"`` (par yields). Only
        ``JPY_MOF`` is ``"par"``.

    Examples
    --------
    >>> from skyield.datasets import international_curve_types
    >>> international_curve_types()["JPY_MOF"]
    'par'
    """
    return {family: spec["curve_type"] for family, spec in FAMILIES.items()}


def _select_families(families, curve_type):
    available = list(FAMILIES)
    if curve_type is not None:
        curve_type = check_choice(curve_type, "curve_type", CURVE_TYPES)
    if families is None:
        return [f for f in available
                if curve_type is None or FAMILIES[f]["curve_type"] == curve_type], False
    families, _ = check_families(
        families, available,
        lambda family: f"unknown curve family {family!r}; available: {', '.join(available)}")
    for family in families:
        if curve_type is not None and FAMILIES[family]["curve_type"] != curve_type:
            raise ValueError(
                f"family {family!r} holds {FAMILIES[family]['curve_type']} yields, which "
                f"conflicts with curve_type={curve_type!r}"
            )
    return families, True


def load_international_curves(families=None, *, curve_type=None, maturities=None,
                              start=None, end=None, return_obs_date=False):
    """Load month-end government yield curves of six publishers, 1961 to 2025.

    Each family is one publisher's curve on a common grid of maturities (3M, 6M, 1Y .. 10Y,
    15Y, 20Y, 25Y, 30Y). A cell holds a value only where the publisher provides that exact
    maturity; everything else is NaN, **never interpolated or filled**. Provenance of each
    family is recorded in ``skyield/datasets/data/SOURCES.md`` (section 4).

    Families (curve type; month ends; maturities):

    - ``AUD_RBA``: zero; 1992-07 .. 2013-04 and 2017-01 .. 2024-03; 3M, 6M, 1Y-10Y.
    - ``CAD_BOC``: zero; 1991-01 .. 2015-08; 3M, 6M, 1Y-10Y, 15Y, 20Y, 25Y, 30Y.
    - ``CHF_SNB``: zero; 1988-01 .. 2024-03; 2Y, 5Y, 10Y and 20Y only.
    - ``EUR_AAA_ECB``: zero; 2004-09 .. 2024-03; 1Y-10Y, 15Y, 20Y, 25Y, 30Y.
    - ``JPY_MOF``: **par**; 1974-09 .. 2024-03; 1Y-10Y, 15Y, 20Y, 25Y, 30Y.
    - ``USD_GSW``: zero; 1961-06 .. 2025-09; 1Y-10Y, 15Y, 20Y, 25Y, 30Y.

    Parameters
    ----------
    families : str or sequence of str, default=None
        Families to return. ``None`` returns every family (of ``curve_type``, if given)
        that has data between ``start`` and ``end``.
    curve_type : {None, "zero", "par"}, default=None
        Keep only families of this curve type. Combined with explicit ``families``, a
        family of the other type is an error.
    maturities : str, float or sequence of them, default=None
        Labels (``"3M"``, ``"10Y"``) or numbers of years. ``None`` returns the union of
        the selected families' maturities. Each requested maturity must be provided by at
        least one selected family; the others hold NaN in that column.
    start, end : str or datetime-like, default=None
        Inclusive bounds on the month-end dates, read at the string's own resolution
        (``end="2013"`` includes December 2013).
    return_obs_date : bool, default=False
        Also return the actual observation date behind each row.

    Returns
    -------
    curves : DataFrame of shape (n_rows, n_maturities)
        Float64 yields in percent with a MultiIndex ``(family, date)``, sorted by family
        then date; ``date`` is the calendar month end, so families line up on one key.
        Columns are maturities in years (float, ascending). ``attrs`` holds
        ``"dataset"``, ``"labels"``, ``"source"`` (publisher per family), ``"units"``,
        ``"curve_type"`` (``"zero"``, ``"par"`` or ``"mixed"``), ``"curve_types"`` (per
        family), ``"grids"`` (maturities in years per family), ``"families"``,
        ``"frequency"`` and ``"date_rule"``.
    obs_date : Series
        Only when ``return_obs_date=True``: the last trading day of the month that each
        row was taken from, indexed like ``curves``.

    Raises
    ------
    ValueError
        For an unknown family (the message lists the available ones), a maturity not on
        the grid or provided by no selected family, a family of the wrong ``curve_type``,
        an invalid date, ``start`` after ``end``, or a selected family without data in the
        span.
    TypeError
        For arguments of the wrong type.

    Notes
    -----
    - **JPY_MOF holds par yields**, not zero-coupon yields; the other five families are
      zero-coupon curves. Compounding conventions also differ (GSW is continuously
      compounded); levels agree to within a few basis points but are not identical.
    - **AUD_RBA has no rows from 2013-05 to 2016-12**, a gap neither source file covers;
      the rows are absent (not NaN rows). Reindex on a full monthly calendar to see it.
    - **CHF_SNB has only 2, 5, 10 and 20 years**, so it shares few maturities with the
      rest: a natural transfer-learning target, as is the JPY par curve.
    - All six families overlap only from 2004-09 to 2013-04. USD_GSW's long end starts
      later (8-10Y in 1971, 15Y in 1971-11, 20Y in 1981, 25-30Y in 1985) and JPY_MOF has
      later starts at 10Y and beyond (10Y 1986-07 .. 25Y 2004-03) and gaps at 1-3Y in 1978-80;
      see :func:`common_maturities`.

    Examples
    --------
    >>> from skyield.datasets import load_international_curves, common_maturities
    >>> curves = load_international_curves(start="2004-09", end="2013-04")
    >>> sorted(curves.index.get_level_values("family").unique())
    ['AUD_RBA', 'CAD_BOC', 'CHF_SNB', 'EUR_AAA_ECB', 'JPY_MOF', 'USD_GSW']
    >>> common_maturities(curves, ["AUD_RBA", "CAD_BOC", "EUR_AAA_ECB", "USD_GSW"])
    [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    """
    return_obs_date = check_bool(return_obs_date, "return_obs_date")
    selected, explicit = _select_families(families, curve_type)
    lower, upper = date_bounds(start, end)

    file_years = parse_maturities(INTL_LABELS)
    if maturities is None:
        positions = [i for i, years in enumerate(file_years)
                     if any(_on_grid(years, f) for f in selected)]
    else:
        positions = select_maturities(maturities, file_years, INTL_LABELS, "international curves")
        for i in positions:
            if not any(_on_grid(file_years[i], f) for f in selected):
                grids = "; ".join(
                    f"{f}: {', '.join(format_maturity(y) for y in FAMILIES[f]['grid'])}"
                    for f in selected
                )
                raise ValueError(
                    f"maturity {INTL_LABELS[i]} is provided by none of the selected "
                    f"families ({grids})"
                )
    labels = [INTL_LABELS[i] for i in positions]

    raw = read_data_csv(
        INTL_FILE, date_columns=("date", "obs_date"), index_col=None,
        string_columns=("family", "curve_type"),
    )
    rows = raw["family"].isin(selected).to_numpy() & date_mask(raw["date"], lower, upper)
    raw = raw.loc[rows]
    present = sorted(raw["family"].unique())
    if explicit:
        missing = [f for f in selected if f not in present]
        if missing:
            raise ValueError(
                f"no data for {', '.join(missing)} between start={start!r} and end={end!r}; "
                + "; ".join(f"{f} spans {_family_span(f)}" for f in missing)
            )
    elif not present:
        raise ValueError(f"no family has data between start={start!r} and end={end!r}")

    raw = raw.set_index(["family", "date"]).sort_index()
    curves = raw[labels].astype("float64")
    curves.columns = pd.Index(file_years[positions], dtype="float64", name="maturity")
    types = {f: FAMILIES[f]["curve_type"] for f in present}
    kinds = set(types.values())
    curves.attrs = {
        "dataset": "international_curves",
        "labels": labels,
        "source": {f: FAMILIES[f]["publisher"] for f in present},
        "units": "percent",
        "curve_type": kinds.pop() if len(kinds) == 1 else "mixed",
        "curve_types": types,
        "grids": {f: list(FAMILIES[f]["grid"]) for f in present},
        "families": present,
        "frequency": "monthly",
        "date_rule": (
            "calendar month end; values from the last trading day of the month with data "
            "(obs_date)"
        ),
    }
    if return_obs_date:
        obs_date = raw["obs_date"].rename("obs_date")
        return curves, obs_date
    return curves


def _on_grid(years, family):
    return bool(np.any(np.isclose(FAMILIES[family]["grid"], years, rtol=0.0, atol=1e-6)))


def _family_span(family):
    raw = read_data_csv(
        INTL_FILE, date_columns=("date", "obs_date"), index_col=None,
        string_columns=("family", "curve_type"),
    )
    dates = raw.loc[raw["family"] == family, "date"]
    return f"{dates.min():%Y-%m} .. {dates.max():%Y-%m}"


def common_maturities(curves, families=None, *, how="all"):
    """Maturities that every selected family provides in a multi-family panel.

    Parameters
    ----------
    curves : DataFrame
        A panel with a MultiIndex whose first level is ``family`` (as returned by
        :func:`load_international_curves`) and one column per maturity.
    families : str or sequence of str, default=None
        Families to consider; ``None`` takes every family in ``curves``.
    how : {"all", "any"}, default="all"
        - ``"all"``: keep a maturity only if it has no missing value on any row of the
          selected families, i.e. it is usable over the whole span without a rule for
          missing data.
        - ``"any"``: keep a maturity if each selected family has at least one value for
          it somewhere in the span.

    Returns
    -------
    maturities : list
        Column labels of ``curves`` (maturities in years), in column order.

    Raises
    ------
    ValueError
        If ``curves`` has no ``family`` level, a requested family is not in it, or
        ``how`` is unknown.

    Examples
    --------
    >>> from skyield.datasets import load_international_curves, common_maturities
    >>> curves = load_international_curves(["CHF_SNB", "USD_GSW"], start="1990", end="1999")
    >>> common_maturities(curves)
    [2.0, 5.0, 10.0, 20.0]
    """
    how = check_choice(how, "how", ("all", "any"))
    if not isinstance(curves, pd.DataFrame) or not isinstance(curves.index, pd.MultiIndex):
        raise TypeError("curves must be a DataFrame with a (family, date) MultiIndex")
    if curves.index.names[0] != "family":
        raise ValueError(
            f"the first index level of curves must be 'family', got {curves.index.names[0]!r}"
        )
    family_values = curves.index.get_level_values("family")
    present = list(pd.unique(family_values))
    if families is None:
        families = present
    elif isinstance(families, str):
        families = [families]
    unknown = [f for f in families if f not in present]
    if unknown:
        raise ValueError(
            f"families {unknown} are not in curves; it holds: {', '.join(map(str, present))}"
        )
    if len(families) == 0:
        raise ValueError("families is empty")
    observed = curves.notna()
    keep = np.ones(curves.shape[1], dtype=bool)
    for family in families:
        rows = observed.loc[np.asarray(family_values == family)]
        keep &= rows.all(axis=0).to_numpy() if how == "all" else rows.any(axis=0).to_numpy()
    return [column for column, kept in zip(curves.columns, keep) if kept]
