"""Parsing of maturity labels ("3M", "6 Mo", "10Y", "DGS10", "SVENY05", ...) into years."""

import re
from numbers import Real

import numpy as np

_UNIT_IN_YEARS = {
    "d": 1.0 / 365.0,
    "w": 1.0 / 52.0,
    "m": 1.0 / 12.0,
    "y": 1.0,
}
_UNIT_ALIASES = {
    "d": "d", "day": "d", "days": "d",
    "w": "w", "wk": "w", "wks": "w", "week": "w", "weeks": "w",
    "m": "m", "mo": "m", "mos": "m", "mon": "m", "mth": "m", "mths": "m",
    "month": "m", "months": "m",
    "y": "y", "yr": "y", "yrs": "y", "year": "y", "years": "y",
}
# FRED constant-maturity codes: DGS10 (years), DGS1MO / DGS3MO (months).
_FRED = re.compile(r"^DGS(\d+)(MO)?$")
# Gurkaynak-Sack-Wright zero-coupon yields: SVENY01 .. SVENY30 (years).
_GSW = re.compile(r"^SVENY(\d+)$")
_NUMBER_WITH_UNIT = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*[-_ ]?\s*([a-z]*)$")


def _unit_key(unit, label):
    key = _UNIT_ALIASES.get(str(unit).strip().lower())
    if key is None:
        raise ValueError(
            f"unknown maturity unit {unit!r} for label {label!r}; "
            f"use one of 'days', 'weeks', 'months', 'years'"
        )
    return key


def parse_maturity(label, unit=None):
    """Convert one maturity label to years.

    Parameters
    ----------
    label : str or float
        A tenor such as ``"3M"``, ``"6 Mo"``, ``"10Y"``, ``"10 Yr"``, ``"2W"``, ``"30D"``,
        a FRED constant-maturity code (``"DGS10"``, ``"DGS1MO"``), a
        Gurkaynak-Sack-Wright column (``"SVENY05"``), or a plain number (or numeric
        string) whose unit is given by ``unit``.
    unit : {"days", "weeks", "months", "years"}, default=None
        Unit of a plain number. Required for plain numbers: a bare ``10`` could be
        months or years, so it is never guessed. Ignored for labels that carry a unit.

    Returns
    -------
    years : float
        Maturity in years. Months are twelfths, weeks 1/52 and days 1/365 of a year.

    Raises
    ------
    ValueError
        If the label cannot be read, is negative, or is a plain number without ``unit``.

    Examples
    --------
    >>> from skyield.preprocessing import parse_maturity
    >>> parse_maturity("6 Mo"), parse_maturity("DGS10"), parse_maturity(18, unit="months")
    (0.5, 10.0, 1.5)
    """
    if isinstance(label, (bool, np.bool_)):
        raise ValueError(f"cannot read maturity label {label!r}")
    if isinstance(label, Real):
        value = float(label)
        number_unit = None
    else:
        text = str(label).strip()
        upper = text.upper()
        fred = _FRED.match(upper)
        if fred:
            return float(fred.group(1)) * (1.0 / 12.0 if fred.group(2) else 1.0)
        gsw = _GSW.match(upper)
        if gsw:
            return float(gsw.group(1))
        match = _NUMBER_WITH_UNIT.match(text.lower())
        if match is None:
            raise ValueError(
                f"cannot read maturity label {label!r}: expected forms like '3M', "
                f"'6 Mo', '10Y', 'DGS10', 'SVENY05', or a number with unit="
            )
        value = float(match.group(1))
        number_unit = match.group(2) or None
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"maturity {label!r} must be a non-negative finite number")
    if number_unit is not None:
        return value * _UNIT_IN_YEARS[_unit_key(number_unit, label)]
    if unit is None:
        raise ValueError(
            f"maturity {label!r} is a plain number; pass unit='months' or unit='years' "
            f"(or another unit) to say what it means"
        )
    return value * _UNIT_IN_YEARS[_unit_key(unit, label)]


def parse_maturities(labels, unit=None):
    """Convert a sequence of maturity labels to an array of years.

    Parameters
    ----------
    labels : sequence of str or float
        Labels as accepted by :func:`parse_maturity`.
    unit : {"days", "weeks", "months", "years"}, default=None
        Unit of plain numbers.

    Returns
    -------
    years : ndarray of shape (n_labels,)

    Raises
    ------
    ValueError
        Naming the position and label that could not be read.
    """
    years = []
    for position, label in enumerate(labels):
        try:
            years.append(parse_maturity(label, unit=unit))
        except ValueError as error:
            raise ValueError(f"column {position} ({label!r}): {error}") from None
    return np.asarray(years, dtype=float)
