"""Argument checks shared by the dataset loaders: choices, date spans and maturity selection.

Every check raises a ``TypeError`` or ``ValueError`` that names the argument and the
offending value, and lists what would have been accepted.
"""

import datetime
import re
from numbers import Real

import numpy as np
import pandas as pd

from skyield.utils._dates import _ISO, _both_readings
from skyield.utils._maturities import parse_maturity

# Two maturities closer than this (in years) are the same maturity: 1/12 typed by hand
# must match the column parsed from "1M".
_MATURITY_ATOL = 1e-6
# A year alone is a bound too (``end="2013"``: all of 2013), beside the ISO dates that
# skyield.utils.parse_dates reads.
_YEAR = re.compile(r"\d{4}")
_BOUND_FORMS = "YYYY-MM-DD, YYYY-MM or YYYY"


def check_bool(value, name):
    """Return ``value`` as a bool, or raise a TypeError naming the argument."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {value!r}")


def check_choice(value, name, choices):
    """Return ``value`` if it is one of the string ``choices``, else raise."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {list(choices)}, got {value!r}")
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not supported; use one of {list(choices)}")
    return value


def _text_problem(text):
    """Why the text bound ``text`` is not read (None for ISO text)."""
    if _YEAR.fullmatch(text) or _ISO.fullmatch(text):
        return None
    advice = f"give it as {_BOUND_FORMS}"
    both = _both_readings(text)
    if both is not None:
        return f"it {both}, and the order is not guessed; {advice}"
    return f"only ISO dates are read, never guessed; {advice}"


def date_bound(value, name, side="lower"):
    """Earliest (``side="lower"``) or latest instant that the bound ``value`` covers.

    Text is read by the rule of :func:`skyield.utils.parse_dates`: ISO dates only
    (``YYYY-MM-DD``, with or without a time of day), plus ``YYYY-MM`` and ``YYYY``; other
    text, such as ``01/02/2005`` (1 February day first, 2 January month first), is
    refused rather than guessed. A string keeps its own resolution, as in pandas'
    partial-string indexing, so ``end="2013"`` covers the whole of 2013 and
    ``start="2013-05"`` begins on 1 May; so does a :class:`pandas.Period`. Other
    datetime-likes (``datetime.date``, ``numpy.datetime64``, ``pandas.Timestamp``) are
    instants.

    Parameters
    ----------
    value : str, datetime-like or pandas.Period
    name : str
        The argument, named in errors (``"start"``, ``"--end"``).
    side : {"lower", "upper"}, default="lower"

    Returns
    -------
    bound : pandas.Timestamp

    Raises
    ------
    TypeError
        If ``value`` is neither text nor a datetime-like.
    ValueError
        Naming the argument and the value: text that is not an ISO date (with both
        readings of an ambiguous one), a date that does not exist, a missing date, a
        time zone.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (str, datetime.date, np.datetime64, pd.Period)
    ):
        raise TypeError(
            f"{name} must be a date string such as '2013-05-01' or a datetime-like, "
            f"got {value!r}"
        )
    if isinstance(value, str):
        text = value.strip()
        problem = _text_problem(text)
        if problem is not None:
            raise ValueError(f"{name}={value!r} is not a date: {problem}")
        try:
            value = pd.Period(text)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{name}={value!r} is not a date: {error}") from None
    if isinstance(value, pd.Period):
        stamp = value.start_time if side == "lower" else value.end_time
    else:
        stamp = pd.Timestamp(value)
        if pd.isna(stamp):
            raise ValueError(f"{name} must be a date, got {value!r}")
    if stamp.tzinfo is not None:
        raise ValueError(f"{name}={value!r} carries a time zone; the bundled dates are naive")
    return stamp


def date_bounds(start, end):
    """Resolve ``start`` and ``end`` into inclusive Timestamp bounds (None = open).

    Raises
    ------
    ValueError
        If a bound is not a date or ``start`` lies after ``end``.
    """
    lower = None if start is None else date_bound(start, "start", "lower")
    upper = None if end is None else date_bound(end, "end", "upper")
    if lower is not None and upper is not None and lower > upper:
        raise ValueError(f"start={start!r} is after end={end!r}")
    return lower, upper


def date_mask(dates, lower, upper):
    """Boolean mask of ``dates`` inside the inclusive bounds."""
    dates = pd.DatetimeIndex(dates)
    mask = np.ones(len(dates), dtype=bool)
    if lower is not None:
        mask &= np.asarray(dates >= lower)
    if upper is not None:
        mask &= np.asarray(dates <= upper)
    return mask


def slice_dates(frame, start, end, what):
    """Rows of ``frame`` (DatetimeIndex) between ``start`` and ``end``, inclusive.

    Raises
    ------
    ValueError
        If the bounds are invalid or no row of ``what`` falls between them.
    """
    lower, upper = date_bounds(start, end)
    if lower is None and upper is None:
        return frame
    mask = date_mask(frame.index, lower, upper)
    if not mask.any():
        raise ValueError(
            f"no {what} dates between start={start!r} and end={end!r}; the data span "
            f"{frame.index.min():%Y-%m-%d} .. {frame.index.max():%Y-%m-%d}"
        )
    return frame.loc[mask]


def format_maturity(years):
    """Short label for a maturity in years: 0.25 -> '3M', 10.0 -> '10Y'."""
    months = years * 12.0
    if abs(years - round(years)) < _MATURITY_ATOL:
        return f"{round(years)}Y"
    if abs(months - round(months)) < _MATURITY_ATOL:
        return f"{round(months)}M"
    return f"{years:g}Y"


def _requested_years(requested):
    if isinstance(requested, (bool, np.bool_)):
        raise TypeError(f"cannot read maturity {requested!r}; give a label such as '10Y' or years")
    if isinstance(requested, Real):
        return parse_maturity(requested, unit="years")
    if isinstance(requested, str):
        text = requested.strip()
        try:
            float(text)
        except ValueError:
            return parse_maturity(text)
        return parse_maturity(text, unit="years")
    raise TypeError(
        f"maturities must be labels such as '3M', '10Y' or numbers of years, "
        f"got {requested!r} of type {type(requested).__name__}"
    )


def select_maturities(requested, available_years, available_labels, what, listing=None):
    """Positions of the requested maturities among the available ones, sorted by maturity.

    Parameters
    ----------
    requested : None, str, float or sequence of str/float
        Labels (``"3M"``, ``"10Y"``, ``"SVENY05"``, ``"DGS10"``) or plain numbers of
        years. ``None`` selects every available maturity.
    available_years : sequence of float
        Maturities in years, sorted ascending.
    available_labels : sequence of str
        The labels of those maturities in the data file.
    what : str
        Name of the data, used in error messages.
    listing : str, default=None
        How error messages describe the available maturities; None lists every label
        with its years (too long for a grid of many maturities).

    Returns
    -------
    positions : list of int
        Positions into ``available_years``, ascending.

    Raises
    ------
    ValueError
        Naming the first maturity that cannot be read, is not available or is repeated,
        and listing the available ones.
    """
    if requested is None:
        return list(range(len(available_years)))
    if isinstance(requested, (str, Real)):
        requested = [requested]
    try:
        requested = list(requested)
    except TypeError:
        raise TypeError(
            f"maturities must be a label, a number of years or a sequence of them, "
            f"got {requested!r}"
        ) from None
    if not requested:
        raise ValueError("maturities is empty; pass None to select every maturity")
    available_years = np.asarray(available_years, dtype=float)
    if listing is None:
        listing = ", ".join(
            f"{label} ({years:.4g}y)" for label, years in zip(available_labels, available_years)
        )
    positions = []
    for item in requested:
        try:
            years = _requested_years(item)
        except ValueError as error:
            raise ValueError(f"maturity {item!r}: {error}") from None
        hits = np.flatnonzero(np.abs(available_years - years) < _MATURITY_ATOL)
        if hits.size == 0:
            raise ValueError(
                f"maturity {item!r} ({years:.4g} years) is not in the {what} data; "
                f"available: {listing}"
            )
        if hits[0] in positions:
            earlier = requested[positions.index(hits[0])]
            raise ValueError(
                f"maturity {item!r} repeats {earlier!r} ({years:.4g} years); "
                f"request each maturity once"
            )
        positions.append(int(hits[0]))
    return sorted(positions)


def check_families(families, available, unknown):
    """The families a loader's ``families=`` selects, checked against ``available``.

    Returns ``(sorted families, True)``, or ``(list(available), False)`` for None (every
    family, not a selection). ``unknown(family)`` gives the message for a family that is
    not available. A string is one family; an empty or repeating selection is an error.
    """
    if families is None:
        return list(available), False
    if isinstance(families, str):
        families = [families]
    try:
        families = list(families)
    except TypeError:
        raise TypeError(
            f"families must be a family name or a sequence of them, got {families!r}"
        ) from None
    if not families:
        raise ValueError("families is empty; pass None to select every family")
    for family in families:
        if not isinstance(family, str) or family not in available:
            raise ValueError(unknown(family))
        if families.count(family) > 1:
            raise ValueError(f"family {family!r} is requested more than once")
    return sorted(families), True
