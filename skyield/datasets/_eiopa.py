"""Loader of the bundled EIOPA risk-free spot curves (the data of Richman and Scognamiglio).

The file is in long format, one row per (release date, family), gzip-compressed;
provenance and caveats are recorded in ``data/SOURCES.md``, section 7.

Many families are the same curve: the euro curve and 19 euro-area countries coincide on
every release (Croatia from 2023, Bulgaria from 2026), and Liechtenstein's curve is
Switzerland's on every release. A study that
pools families (one network for all, pooled error metrics) would weight such a curve
twenty times over, so the loader keeps one family per distinct curve by default and says
which family stands for which group; ``duplicates="keep"`` returns them all.
"""

import numpy as np
import pandas as pd

from skyield.utils._maturities import parse_maturities

from ._io import read_data_csv
from ._selection import (
    check_choice,
    check_families,
    date_bounds,
    date_mask,
    select_maturities,
)

EIOPA_FILE = "eiopa_rfr_spot_monthly.csv.gz"
EIOPA_LABELS = tuple(f"{n}Y" for n in range(1, 151))
EIOPA_SOURCE = (
    "European Insurance and Occupational Pensions Authority (EIOPA), monthly risk-free "
    "interest rate term structures, spot rates without volatility adjustment "
    "(RFR_spot_no_VA), 1..150 years; copy from open-source-modelling/EIOPA_all_curves, "
    "see skyield/datasets/data/SOURCES.md, section 7"
)
DUPLICATE_RULES = ("drop", "keep")
# The family that stands for a group of identical curves: the euro curve where it is in
# the group, otherwise the first family in alphabetical order.
PREFERRED_REPRESENTATIVE = "EU"
DUPLICATE_RULE = (
    "families whose curves are identical (same dates, equal values at every selected "
    "maturity on every date of the selection) form a group; the euro curve EU represents "
    "its group, any other group is represented by its first family in alphabetical order"
)

# Families, maturities and span of the multi-curve benchmark: the distinct curves of the
# seed's countries over the years every family is published, on the maturities up to the
# end of most countries' liquid parts (beyond them EIOPA extrapolates to the ultimate
# forward rate, so forecasts there are forecasts of a formula).
BENCHMARK_MATURITIES = (1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0)
BENCHMARK_SPAN = ("2014-12", "2024-08")


def _raw():
    return read_data_csv(EIOPA_FILE, index_col=None, string_columns=("family", "country"))


def _select_families(families, available):
    return check_families(
        families, available,
        lambda family: f"unknown EIOPA family {family!r}; available (ISO-2 codes, EU for "
                       f"the euro curve): {', '.join(available)}")


def _spans(raw, families):
    dates = raw.groupby("family")["date"].agg(["min", "max"])
    return "; ".join(
        f"{f} spans {dates.loc[f, 'min']:%Y-%m} .. {dates.loc[f, 'max']:%Y-%m}" for f in families
    )


def identical_curve_groups(curves):
    """Groups of families of a (family, date) panel whose curves are identical.

    Parameters
    ----------
    curves : DataFrame
        Indexed by a (family, date) MultiIndex, one column per maturity.

    Returns
    -------
    groups : dict of str to list of str
        Representative family -> the other families identical to it, for every group of
        two or more (dates and values equal everywhere; NaN equals NaN). The euro curve
        ``EU`` represents its group; any other group is represented by its first family
        in alphabetical order.
    """
    blocks = {f: block.droplevel("family") for f, block in curves.groupby(level="family")}
    groups = []
    for family in sorted(blocks, key=lambda f: (f != PREFERRED_REPRESENTATIVE, f)):
        block = blocks[family]
        for group in groups:
            first = blocks[group[0]]
            if first.index.equals(block.index) and np.array_equal(
                    first.to_numpy(), block.to_numpy(), equal_nan=True):
                group.append(family)
                break
        else:
            groups.append([family])
    return {group[0]: sorted(group[1:]) for group in groups if len(group) > 1}


def load_eiopa_curves(families=None, *, maturities=None, start=None, end=None,
                      duplicates="drop"):
    """Load EIOPA's monthly risk-free spot curves, 1 to 150 years, 2014-12 to 2026-06.

    EIOPA publishes for Solvency II one risk-free spot curve per currency or country
    each month (Smith-Wilson curves: market data up to the last liquid point, then an
    extrapolation to the ultimate forward rate). These are the data of Richman and
    Scognamiglio (2024), section 5. The bundled copy holds the spot rates without
    volatility adjustment of 139 monthly releases, 2014-12-31 .. 2026-06-30, for 53
    families (ISO-2 country codes, ``EU`` for the euro curve, ``GB`` for the United
    Kingdom); provenance in ``skyield/datasets/data/SOURCES.md``, section 7. Values
    are returned as published: **percent, annually compounded**.

    Parameters
    ----------
    families : str or sequence of str, default=None
        Family codes to return (``"EU"``, ``"GB"``, ``"US"``, ``"TR"``, ...). ``None``
        returns every family with data between ``start`` and ``end``.
    maturities : str, float or sequence of them, default=None
        Maturities as labels (``"10Y"``) or numbers of years (``10``): whole years from 1
        to 150. ``None`` returns all 150.
    start, end : str or datetime-like, default=None
        Inclusive bounds on the release dates, read at their own resolution
        (``end="2021"`` includes December 2021). The seed's sample is
        ``start="2015-12", end="2021-12"``.
    duplicates : {"drop", "keep"}, default="drop"
        Rule for families whose curves are identical over the selection (same dates and
        the same value at every selected maturity on every date):

        - ``"drop"``: keep one family per distinct curve. The euro curve ``EU``
          represents its group (the euro-area countries that coincide with it); any
          other group is represented by its first family in alphabetical order (``CH``
          for Liechtenstein). Over the seed's sample this leaves 33 of 53 families.
        - ``"keep"``: return every family.

        Either way ``attrs["duplicates"]`` lists each group as representative ->
        identical families. Groups depend on the selection: Croatia joins the euro
        curve from 2023, Bulgaria from 2026.

    Returns
    -------
    curves : DataFrame of shape (n_rows, n_maturities)
        Float64 spot rates in percent with a MultiIndex ``(family, date)`` sorted by
        family then date; ``date`` is the release's reference date, the last calendar
        day of the month. Columns are maturities in years (float, ascending). ``attrs``
        holds ``"dataset"``, ``"labels"``, ``"source"``, ``"units"`` (``"percent"``),
        ``"compounding"`` (``"annual"``), ``"curve_type"`` (``"zero"``), ``"families"``
        (returned codes), ``"countries"`` (code -> EIOPA's country name),
        ``"duplicates"`` (representative -> identical families), ``"duplicate_rule"``,
        ``"frequency"`` and ``"date_rule"``.

    Raises
    ------
    ValueError
        For an unknown family (the message lists the codes), a maturity outside 1..150
        whole years, an invalid date, ``start`` after ``end``, no release in the span,
        a requested family without data in the span (the message gives its span), or an
        unknown ``duplicates`` rule.
    TypeError
        For arguments of the wrong type.

    Notes
    -----
    - Not every family is in every release: Brazil, Chile, India, South Korea, Mexico,
      Malaysia, New Zealand, Singapore, Thailand, Turkey and South Africa end in
      2024-12, Russia in 2024-08.
    - Beyond each currency's last liquid point (20 years for the euro) the curve is
      EIOPA's extrapolation towards the ultimate forward rate, not a market rate.
    - EIOPA's rates are annually compounded; ``skyield.curves`` converts them (e.g. to
      continuous compounding, ``log(1 + r / 100)``).

    References
    ----------
    Richman, R. and Scognamiglio, S. (2024). Multiple yield curve modeling and
    forecasting using deep learning. ASTIN Bulletin 54(3), 463-494, section 5.

    Examples
    --------
    >>> from skyield.datasets import load_eiopa_curves
    >>> curves = load_eiopa_curves(start="2015-12", end="2021-12")
    >>> len(curves.attrs["families"]), curves.shape
    (33, (2409, 150))
    >>> curves.attrs["duplicates"]["CH"]
    ['LI']
    >>> gb = load_eiopa_curves("GB", maturities=["1Y", 10], end="2015-01")
    >>> gb.loc["GB", 10.0].tolist()
    [1.773, 1.365]
    """
    duplicates = check_choice(duplicates, "duplicates", DUPLICATE_RULES)
    raw = _raw()
    available = sorted(raw["family"].unique())
    selected, explicit = _select_families(families, available)
    lower, upper = date_bounds(start, end)
    file_years = parse_maturities(EIOPA_LABELS)
    positions = select_maturities(maturities, file_years, EIOPA_LABELS, "EIOPA",
                                  listing="whole years 1Y .. 150Y")
    labels = [EIOPA_LABELS[i] for i in positions]

    in_span = date_mask(raw["date"], lower, upper)
    if not in_span.any():
        raise ValueError(
            f"no EIOPA release between start={start!r} and end={end!r}; the releases span "
            f"{raw['date'].min():%Y-%m-%d} .. {raw['date'].max():%Y-%m-%d}"
        )
    rows = raw.loc[in_span & raw["family"].isin(selected).to_numpy()]
    present = sorted(rows["family"].unique())
    missing = [f for f in selected if f not in present]
    if explicit and missing:
        raise ValueError(
            f"no data for {', '.join(missing)} between start={start!r} and end={end!r}; "
            + _spans(raw, missing)
        )

    rows = rows.set_index(["family", "date"]).sort_index()
    curves = rows[labels].astype("float64")
    curves.columns = pd.Index(file_years[positions], dtype="float64", name="maturity")
    groups = identical_curve_groups(curves)
    kept = present
    if duplicates == "drop":
        dropped = {f for group in groups.values() for f in group}
        kept = [f for f in present if f not in dropped]
        curves = curves.loc[curves.index.get_level_values("family").isin(kept)]
    countries = rows["country"].groupby(level="family").last()
    curves.attrs = {
        "dataset": "eiopa_curves",
        "labels": labels,
        "source": EIOPA_SOURCE,
        "units": "percent",
        "compounding": "annual",
        "curve_type": "zero",
        "families": kept,
        "countries": {f: countries[f] for f in kept},
        "duplicates": groups,
        "duplicate_rule": DUPLICATE_RULE,
        "frequency": "monthly",
        "date_rule": "reference date of the release: the last calendar day of the month",
    }
    return curves


def eiopa_benchmark_selection():
    """Families, maturities and span of the EIOPA multi-curve benchmark.

    The selection keeps every distinct curve over the years in which all 53 families
    are published (2014-12 .. 2024-08, Russia's last release), on nine maturities from
    1 to 30 years: most of the liquid parts of the curves, where the rates are market
    rates rather than EIOPA's extrapolation.

    Returns
    -------
    selection : dict
        Keyword arguments of :func:`load_eiopa_curves`: ``maturities``, ``start`` and
        ``end`` (families: the default rule, one per distinct curve).

    Examples
    --------
    >>> from skyield.datasets import eiopa_benchmark_selection, load_eiopa_curves
    >>> curves = load_eiopa_curves(**eiopa_benchmark_selection())
    >>> len(curves.attrs["families"]), curves.shape[1]
    (33, 9)
    """
    return {"maturities": list(BENCHMARK_MATURITIES), "start": BENCHMARK_SPAN[0],
            "end": BENCHMARK_SPAN[1]}
