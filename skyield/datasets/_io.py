"""Reading of the CSV files bundled in ``skyield/datasets/data``.

The files and their provenance are described in ``data/SOURCES.md`` next to them. Each file
is parsed once per process and cached; every loader receives a fresh copy, so a caller that
modifies a returned frame never changes what the next call returns.
"""

from functools import lru_cache
from importlib.resources import files

import pandas as pd

DATA_FILES = (
    "us_treasury_cmt_daily.csv",
    "us_treasury_cmt_monthly.csv",
    "gsw_zero_daily.csv",
    "gsw_zero_monthly.csv",
    "fredmd_coincident.csv",
    "fredmd_coincident_tcodes.csv",
    "intl_zero_curves_monthly.csv",
    "eiopa_rfr_spot_monthly.csv.gz",
    "nber_recessions.csv",
    "SOURCES.md",
)


def data_file(name):
    """Return a readable resource for the bundled file ``name``."""
    if name not in DATA_FILES:
        raise ValueError(
            f"{name!r} is not a bundled data file; available: {', '.join(DATA_FILES)}"
        )
    return files("skyield.datasets") / "data" / name


@lru_cache(maxsize=None)
def _read_cached(name, date_columns, index_col, string_columns):
    dtype = {column: "str" for column in string_columns}
    with data_file(name).open("rb") as handle:
        frame = pd.read_csv(handle, dtype=dtype or None,
                            compression="gzip" if name.endswith(".gz") else None)
    for column in date_columns:
        frame[column] = pd.to_datetime(frame[column], format="%Y-%m-%d")
    if index_col is not None:
        frame = frame.set_index(index_col)
    return frame


def read_data_csv(name, *, date_columns=("date",), index_col="date", string_columns=()):
    """Read a bundled CSV file into a new DataFrame.

    Parameters
    ----------
    name : str
        File name inside ``skyield/datasets/data``; a ``.gz`` file is decompressed.
    date_columns : tuple of str, default=("date",)
        Columns holding ISO dates (``YYYY-MM-DD``); parsed strictly.
    index_col : str or None, default="date"
        Column to use as the index.
    string_columns : tuple of str, default=()
        Columns kept as text; every other non-date column is parsed as a number.

    Returns
    -------
    frame : DataFrame
        A copy that the caller may modify freely.
    """
    frame = _read_cached(name, tuple(date_columns), index_col, tuple(string_columns))
    return frame.copy(deep=True)
