"""Catalogue of the bundled datasets: a table of what exists and a text summary of each."""

import pandas as pd

from ._eiopa import load_eiopa_curves
from ._international import load_international_curves
from ._macro import load_coincident_indicators, load_nber_recessions
from ._selection import format_maturity
from ._us_curves import load_gsw_zero, load_treasury_cmt

_DATASETS = {
    "treasury_cmt": {
        "title": "U.S. Treasury constant-maturity (CMT) par yields",
        "loader": load_treasury_cmt,
        "frequency": "daily, weekly, monthly",
        "columns": "1M, 3M, 6M, 1Y, 2Y, 3Y, 5Y, 7Y, 10Y, 20Y, 30Y",
        "curve_type": "par",
        "source": "U.S. Treasury (H.15 constant-maturity yields, via FRED)",
        "files": "us_treasury_cmt_daily.csv, us_treasury_cmt_monthly.csv",
    },
    "gsw_zero": {
        "title": "Gurkaynak-Sack-Wright U.S. zero-coupon yields",
        "loader": load_gsw_zero,
        "frequency": "daily, weekly, monthly",
        "columns": "1Y .. 30Y (SVENY01 .. SVENY30); NSS parameters monthly 2022-10 .. 2025-09",
        "curve_type": "zero",
        "source": "Federal Reserve Board (Gurkaynak, Sack and Wright, 2007)",
        "files": "gsw_zero_daily.csv, gsw_zero_monthly.csv",
    },
    "international_curves": {
        "title": "Month-end government curves of six publishers, (family, date) panel",
        "loader": load_international_curves,
        "frequency": "monthly",
        "columns": "3M, 6M, 1Y .. 10Y, 15Y, 20Y, 25Y, 30Y (each family a subset)",
        "curve_type": "zero (JPY_MOF par)",
        "source": (
            "Federal Reserve Board, Bank of Canada, ECB, RBA, SNB, Ministry of Finance Japan"
        ),
        "files": "intl_zero_curves_monthly.csv",
    },
    "eiopa_curves": {
        "title": "EIOPA risk-free spot curves (Solvency II), (family, date) panel",
        "loader": load_eiopa_curves,
        "frequency": "monthly",
        "columns": "1Y .. 150Y; 53 families, one per distinct curve by default (33)",
        "curve_type": "zero (annually compounded)",
        "source": "European Insurance and Occupational Pensions Authority (EIOPA)",
        "files": "eiopa_rfr_spot_monthly.csv.gz",
    },
    "coincident_indicators": {
        "title": "FRED-MD coincident indicators (INDPRO, CMRMTSPLx, W875RX1, AWHMAN)",
        "loader": load_coincident_indicators,
        "frequency": "monthly",
        "columns": "INDPRO, CMRMTSPLx, W875RX1, AWHMAN",
        "curve_type": "n/a",
        "source": "FRED-MD, Federal Reserve Bank of St. Louis (McCracken and Ng, 2016)",
        "files": "fredmd_coincident.csv, fredmd_coincident_tcodes.csv",
    },
    "nber_recessions": {
        "title": "NBER U.S. business-cycle peaks and troughs",
        "loader": load_nber_recessions,
        "frequency": "event dates (months)",
        "columns": "peak, trough",
        "curve_type": "n/a",
        "source": "NBER Business Cycle Dating Committee",
        "files": "nber_recessions.csv",
    },
}


def _dates(frame):
    if frame.attrs.get("dataset") == "nber_recessions":
        return pd.DatetimeIndex(frame["peak"].tolist() + frame["trough"].tolist())
    if isinstance(frame.index, pd.MultiIndex):
        return pd.DatetimeIndex(frame.index.get_level_values("date"))
    return pd.DatetimeIndex(frame.index)


def _span(frame):
    dates = _dates(frame)
    return f"{dates.min():%Y-%m-%d} .. {dates.max():%Y-%m-%d}"


def _spec(name):
    if not isinstance(name, str) or name not in _DATASETS:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(_DATASETS)}")
    return _DATASETS[name]


def list_datasets():
    """Describe every bundled dataset in one table.

    Returns
    -------
    datasets : DataFrame
        One row per dataset, indexed by ``name`` (the string that
        :func:`describe_dataset` accepts), with columns ``loader``, ``frequency``,
        ``span`` (first .. last date at the loader's default frequency), ``columns``,
        ``curve_type``, ``source`` and ``files`` (in ``skyield/datasets/data``).

    Examples
    --------
    >>> from skyield.datasets import list_datasets
    >>> list_datasets().loc["treasury_cmt", "span"]
    '1962-01-02 .. 2026-02-20'
    """
    rows = []
    for name, spec in _DATASETS.items():
        rows.append({
            "name": name,
            "loader": spec["loader"].__name__,
            "frequency": spec["frequency"],
            "span": _span(spec["loader"]()),
            "columns": spec["columns"],
            "curve_type": spec["curve_type"],
            "source": spec["source"],
            "files": spec["files"],
        })
    return pd.DataFrame(rows).set_index("name")


def _column_table(frame, labels):
    rows = []
    for column, label in zip(frame.columns, labels):
        values = frame[column]
        valid = values.dropna()
        rows.append({
            "column": label,
            "first": f"{valid.index.min():%Y-%m-%d}" if len(valid) else "-",
            "last": f"{valid.index.max():%Y-%m-%d}" if len(valid) else "-",
            "values": len(valid),
            "missing": int(values.isna().sum()),
        })
    return pd.DataFrame(rows).to_string(index=False)


def _eiopa_lines(data):
    attrs = data.attrs
    dates = data.index.get_level_values("date")
    labels = attrs["labels"]
    lines = [
        f"span: {_span(data)}; {dates.nunique()} releases, {len(data)} rows",
        f"maturities: {labels[0]} .. {labels[-1]} ({len(labels)})" if len(labels) > 3
        else f"maturities: {', '.join(labels)}",
        f"identical curves: {attrs['duplicate_rule']}",
    ]
    lines.extend(f"  {representative} stands for {', '.join(others)}"
                 for representative, others in attrs["duplicates"].items())
    for family, block in data.groupby(level="family", sort=True):
        block = block.droplevel("family")
        lines.append(
            f"{family} ({attrs['countries'][family]}): {_span(block)}, {len(block)} month "
            f"ends, {int(block.isna().to_numpy().sum())} missing values"
        )
    return lines


def describe_dataset(name, **loader_kwargs):
    """Summarise one bundled dataset as text.

    Parameters
    ----------
    name : str
        One of the names in :func:`list_datasets` (``"treasury_cmt"``, ``"gsw_zero"``,
        ``"international_curves"``, ``"eiopa_curves"``, ``"coincident_indicators"``,
        ``"nber_recessions"``).
    **loader_kwargs
        Passed to the dataset's loader, e.g. ``freq="weekly"`` or ``start="2000"``.

    Returns
    -------
    summary : str
        Title, loader, source, frequency, span and number of dates, then one line per
        column (per family for the international and EIOPA curves) with its first and
        last non-missing date and its numbers of values and missing values; for the
        EIOPA curves also the groups of identical curves.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the available ones), and whatever the
        loader raises for its arguments.

    Examples
    --------
    >>> from skyield.datasets import describe_dataset
    >>> print(describe_dataset("treasury_cmt", freq="monthly").splitlines()[0])
    treasury_cmt: U.S. Treasury constant-maturity (CMT) par yields
    """
    spec = _spec(name)
    data = spec["loader"](**loader_kwargs)
    attrs = data.attrs
    arguments = ", ".join(f"{key}={value!r}" for key, value in loader_kwargs.items())
    lines = [
        f"{name}: {spec['title']}",
        f"loader: {spec['loader'].__name__}({arguments})",
        f"files: {spec['files']}",
    ]
    source = attrs.get("source", spec["source"])
    if isinstance(source, dict):
        lines.append("source:")
        lines.extend(f"  {family}: {publisher}" for family, publisher in source.items())
    else:
        lines.append(f"source: {source}")
    if name == "nber_recessions":
        lines.append(f"recessions: {len(data)}; first peak .. last trough: {_span(data)}")
        lines.append(f"convention: {attrs['convention']}")
        lines.append(data.assign(
            peak=data["peak"].dt.strftime("%Y-%m"), trough=data["trough"].dt.strftime("%Y-%m")
        ).to_string(index=False))
        return "\n".join(lines)
    if "frequency" in attrs:
        rule = f" ({attrs['date_rule']})" if "date_rule" in attrs else ""
        lines.append(f"frequency: {attrs['frequency']}{rule}")
    if isinstance(attrs.get("units"), str):
        lines.append(f"units: {attrs['units']}")
    if "curve_type" in attrs:
        lines.append(f"curve type: {attrs['curve_type']}")
    if "tcodes" in attrs:
        state = "transformed by tcode" if attrs["transform"] else "levels as published"
        lines.append(f"values: {state}; tcodes {attrs['tcodes']}")
    if name == "international_curves":
        dates = data.index.get_level_values("date")
        lines.append(f"span: {_span(data)}; {dates.nunique()} month ends, {len(data)} rows")
        for family, block in data.groupby(level="family", sort=True):
            block = block.droplevel("family")
            grid = [y for y in attrs["grids"][family] if y in set(block.columns)]
            lines.append(
                f"{family} ({attrs['curve_types'][family]}): {_span(block)}, "
                f"{len(block)} month ends, maturities {', '.join(map(format_maturity, grid))}"
            )
            table = _column_table(block[grid], [format_maturity(y) for y in grid])
            lines.extend("  " + line for line in table.splitlines())
        return "\n".join(lines)
    if name == "eiopa_curves":
        lines.extend(_eiopa_lines(data))
        return "\n".join(lines)
    lines.append(f"span: {_span(data)}; {len(data)} dates")
    labels = attrs.get("labels", list(data.columns))
    lines.append(_column_table(data, labels))
    if attrs.get("dropped_dates"):
        lines.append(f"dropped incomplete months: {', '.join(attrs['dropped_dates'])}")
    return "\n".join(lines)
