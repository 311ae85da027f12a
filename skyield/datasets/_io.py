"""Reading of the CSV files bundled in ``skyield/datasets/data``.

The files and their provenance are described in ``data/SOURCES.md`` next to them, and
``data/CHECKSUMS.sha256`` records the SHA-256 digest of every data file as built
(:func:`verify_data_files` checks them). Each file is parsed once per process and cached;
every loader receives a fresh copy, so a caller that modifies a returned frame never changes
what the next call returns.
"""

import hashlib
import os
import re
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

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

# The digest list (in the format of ``sha256sum``) and the files it does not cover.
CHECKSUMS_FILE = "CHECKSUMS.sha256"
_NOT_CHECKSUMMED = ("SOURCES.md", CHECKSUMS_FILE)
# sha256sum writes "<digest>  <name>" (text mode) or "<digest> *<name>" (binary mode).
_CHECKSUM_LINE = re.compile(r"([0-9a-fA-F]{64}) [ *](.+)")


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


def verify_data_files(folder=None):
    """Check the bundled data files against the digests recorded in ``CHECKSUMS.sha256``.

    Every file of the folder other than ``SOURCES.md`` and ``CHECKSUMS.sha256`` itself must
    be listed, and every listed file must be present with the recorded SHA-256 digest. The
    list is in the format of ``sha256sum`` (``<digest>  <name>`` per line), so
    ``sha256sum -c CHECKSUMS.sha256`` inside the folder checks the same.

    Parameters
    ----------
    folder : path or importlib.resources Traversable, default=None
        Folder holding the data files and ``CHECKSUMS.sha256``; None for the package's own
        ``skyield/datasets/data``.

    Returns
    -------
    digests : dict of {str: str}
        The verified SHA-256 hex digest of each data file, by file name.

    Raises
    ------
    ValueError
        Naming every malformed line of the list, every listed file that is missing, every
        file that is not listed and every file whose digest differs.
    """
    if folder is None:
        folder = files("skyield.datasets") / "data"
    elif isinstance(folder, (str, os.PathLike)):
        folder = Path(folder)
    recorded, problems = {}, []
    lines = (folder / CHECKSUMS_FILE).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        match = _CHECKSUM_LINE.fullmatch(line)
        if match is None:
            problems.append(f"{CHECKSUMS_FILE} line {number} is not '<sha256>  <name>': "
                            f"{line!r}")
            continue
        digest, name = match.group(1).lower(), match.group(2)
        if name in recorded:
            problems.append(f"{CHECKSUMS_FILE} lists {name!r} twice")
        recorded[name] = digest
    present = {entry.name for entry in folder.iterdir()
               if entry.is_file() and entry.name not in _NOT_CHECKSUMMED}
    for name in sorted(present - set(recorded)):
        problems.append(f"{name!r} is not listed in {CHECKSUMS_FILE}")
    for name in sorted(recorded):
        if name not in present:
            problems.append(f"{name!r} is listed in {CHECKSUMS_FILE} but missing")
            continue
        actual = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        if actual != recorded[name]:
            problems.append(f"{name!r} has SHA-256 {actual}, but {CHECKSUMS_FILE} records "
                            f"{recorded[name]}")
    if problems:
        raise ValueError("bundled data files do not match their checksums: "
                         + "; ".join(problems))
    return recorded
