"""A user's panel from a CSV file, read through the data intake.

The file layout skyield reads: a header line, the dates in the first column, one column
per series (a maturity label such as ``3M``, ``10Y``, ``DGS10`` or ``SVENY05`` for yields),
fields separated by commas, numbers with a decimal point, missing values as empty cells
(or pandas' usual markers such as ``NA``). Everything else is refused with a message that
names the line and column, rather than guessed: dates in any format but ISO need their
format (:func:`skyield.utils.parse_dates`), text is never read as a number, and a file
separated by semicolons or written with decimal commas is named as such.
"""

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

from skyield.utils._dates import check_dates, insert_missing_dates, parse_dates
from skyield.utils._maturities import parse_maturities

from ._selection import date_bounds, date_mask, select_maturities

__all__ = ["read_panel_csv"]

MISSING_DATES = ("raise", "insert")
_OTHER_SEPARATORS = (";", "\t", "|")
_DECIMAL_COMMA = re.compile(r"-?\d+,\d+")
# The cells read as missing values: pandas' default markers.
_MISSING_CELLS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
                  "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a",
                  "nan", "null")
_GAP_HINT = (
    "Select a span without gaps (start=, end=), or, for a model that handles missing "
    "values (NeuralStateSpaceModel), read the missing dates as rows of missing values "
    "with missing_dates='insert' (skyield benchmark: --allow-missing)."
)


def _decimal_comma_note(cells):
    """A note when some of ``cells`` look like numbers written with a decimal comma."""
    for cell in cells:
        if _DECIMAL_COMMA.fullmatch(cell.strip()):
            return f", and numbers written with a decimal comma ({cell.strip()!r})"
    return ""


def _rows(path):
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text file in UTF-8") from None
    except csv.Error as error:
        raise ValueError(f"{path} cannot be read as CSV: {error}") from None
    while rows and not rows[-1]:
        rows.pop()  # blank lines at the end of the file
    if not rows:
        raise ValueError(f"{path} is empty")
    return rows[0], rows[1:]


def _read_table(path):
    """The file as text: a frame of strings, missing cells as NaN, one column per field.

    Read with the standard library's ``csv`` module rather than ``pandas.read_csv``, which
    takes a first column of dates as the index when the data lines have one field more
    than the header (a decimal comma does that), shifting every number by a column.
    """
    header, body = _rows(path)
    if len(header) == 1:
        for separator in _OTHER_SEPARATORS:
            if separator in header[0]:
                note = _decimal_comma_note(
                    part for row in body[:5] for part in ",".join(row).split(separator))
                raise ValueError(
                    f"{path} looks separated by {separator!r} (its header is "
                    f"{header[0]!r}){note}; skyield reads files separated by commas with a "
                    f"decimal point"
                )
        raise ValueError(f"{path} has one column only; a panel needs a date column and at "
                         f"least one series")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ValueError(f"{path}: column(s) {repeated} appear more than once in the header")
    if not body:
        raise ValueError(f"{path} has a header but no data lines")
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(
                f"{path}: line {line} has {len(row)} fields but the header has {len(header)}; "
                f"skyield reads files separated by commas with a decimal point (a decimal "
                f"comma, as in 4,25, splits a number in two)"
            )
    table = pd.DataFrame(body, columns=header, dtype=object).apply(
        lambda column: column.str.strip())
    return table.mask(table.isin(_MISSING_CELLS))


def _numbers(table, path):
    """The series columns as float64; a cell that is text is an error naming it."""
    columns = {}
    for column in table.columns[1:]:
        text = table[column]
        values = pd.to_numeric(text, errors="coerce")
        bad = np.flatnonzero((text.notna() & values.isna()).to_numpy())
        if bad.size:
            row = int(bad[0])
            cell = text.iloc[row]
            comma = ", a number with a decimal comma?" if _DECIMAL_COMMA.fullmatch(
                cell.strip()) else ""
            raise ValueError(
                f"{path}: line {row + 2}, column {column!r} holds {cell!r}, which is not a "
                f"number{comma}; write numbers with a decimal point and leave missing values "
                f"empty"
            )
        columns[column] = values.to_numpy(dtype=np.float64)
    return pd.DataFrame(columns)


def _select_columns(frame, maturities, path):
    if maturities is None:
        return frame
    labels = list(frame.columns)
    try:
        years = parse_maturities(labels, unit="years")
    except ValueError as error:
        raise ValueError(
            f"{path}: maturities were requested but the column labels are not maturities "
            f"({error})"
        ) from None
    order = np.argsort(years, kind="stable")
    positions = select_maturities(maturities, years[order], [labels[i] for i in order],
                                  str(path))
    return frame.iloc[:, [int(order[p]) for p in positions]]


def read_panel_csv(path, *, date_format=None, start=None, end=None, maturities=None,
                   missing_dates="raise"):
    """Read a panel of yields (or other series) from a CSV file, checking it at the door.

    The file has a header line, the dates in its first column and one column per series,
    separated by commas, with a decimal point. The dates are read by
    :func:`skyield.utils.parse_dates` (ISO unless ``date_format`` is given), cut to
    ``start`` .. ``end``, and checked by :func:`skyield.utils.check_dates`: unique,
    increasing and evenly spaced at their frequency. Missing values (empty cells) are
    kept as NaN: whether a model may take them is its own missing-value policy.

    Parameters
    ----------
    path : str or path-like
        The CSV file.
    date_format : str, default=None
        The ``strftime`` format of the dates (e.g. ``"%d/%m/%Y"``); None reads ISO dates
        (``YYYY-MM-DD``) only, and refuses ``01/02/1990``, which reads both day first and
        month first.
    start, end : str or datetime-like, default=None
        First and last date kept (inclusive); None keeps the file's own ends. Only the
        kept span is checked for order and spacing.
    maturities : list of str or float, default=None
        Columns to keep, as labels (``"10Y"``) or years (``10``), returned in order of
        maturity; None keeps every column in file order.
    missing_dates : {"raise", "insert"}, default="raise"
        What a gap in the dates does: ``"raise"`` an error naming it, ``"insert"`` rows of
        missing values at the missing dates (see
        :func:`skyield.preprocessing.insert_missing_dates`), for a model that handles
        missing values.

    Returns
    -------
    panel : DataFrame of shape (n_dates, n_series)
        Indexed by a DatetimeIndex named after the first column's header, float64
        columns labelled as in the file.

    Raises
    ------
    ValueError
        Naming the file, and the line and column where it applies: a file separated by
        semicolons or written with decimal commas, a date that is not ISO (or not of
        ``date_format``), text where a number belongs, repeated columns, unknown
        maturities, no date between ``start`` and ``end``, duplicated, unsorted or
        unevenly spaced dates.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skyield.datasets import read_panel_csv
    >>> path = Path(tempfile.mkdtemp()) / "curves.csv"
    >>> _ = path.write_text("date,2Y,10Y\\n31/01/2020,1.4,1.8\\n29/02/2020,1.1,1.5\\n")
    >>> panel = read_panel_csv(path, date_format="%d/%m/%Y")
    >>> panel.index.strftime("%Y-%m-%d").tolist(), panel.columns.tolist()
    (['2020-01-31', '2020-02-29'], ['2Y', '10Y'])
    """
    if missing_dates not in MISSING_DATES:
        raise ValueError(f"missing_dates must be one of {MISSING_DATES}, got {missing_dates!r}")
    path = Path(path)
    table = _read_table(path)
    dates = parse_dates(table.iloc[:, 0], date_format, name=str(path), first_line=2)
    frame = _numbers(table, path).set_axis(dates.rename(str(table.columns[0])))
    lower, upper = date_bounds(start, end)
    if lower is not None or upper is not None:
        keep = date_mask(frame.index, lower, upper)
        if not keep.any():
            raise ValueError(
                f"{path}: no date between start={start!r} and end={end!r}; its dates run "
                f"from {frame.index.min():%Y-%m-%d} to {frame.index.max():%Y-%m-%d}"
            )
        frame = frame.loc[keep]
    frame = _select_columns(frame, maturities, path)
    if missing_dates == "insert":
        return insert_missing_dates(frame, name=str(path))
    check_dates(frame.index, name=str(path), hint=_GAP_HINT)
    return frame
