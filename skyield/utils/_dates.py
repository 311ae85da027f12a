"""The dates of a panel: read without guessing, in order, evenly spaced.

One home for what skyield checks about the rows of a panel before a model sees them:

* :func:`parse_dates` reads text dates. ISO 8601 dates (``YYYY-MM-DD``) are read as they
  are; any other format only with an explicit ``date_format``, because ``01/02/1990`` is
  1 February in most of the world and 2 January in the United States, and pandas'
  guess reads it month first without a word.
* :func:`check_dates` checks that the dates are unique, increasing and evenly spaced at
  their frequency, and returns the frequency.
* :func:`insert_missing_dates` turns the gaps of a panel into rows of missing values, for
  the models that handle missing values and only when the user asks for it.

Frequencies are calendar periods, so that real data whose dates wander inside their
period (the last trading day of each month, a Thursday before a Good Friday) is regular:
a panel is monthly when every month from the first date to the last holds exactly one
date; weekly, quarterly and annual panels alike. Daily panels are business days: steps
over weekends and holidays (up to :data:`DAILY_LONGEST_STEP` calendar days) are part of
their calendar, a longer step is a gap. An index whose ``freq`` is set, or whose spacing
pandas infers exactly (``pd.infer_freq``: hourly data, every other month, ...), is
regular by construction. The frequency of an irregular index is the one most of its
steps are typical of, so that a few gaps do not hide it.
"""

import re

import numpy as np
import pandas as pd
from pandas.tseries import offsets
from pandas.tseries.frequencies import to_offset

__all__ = [
    "DAILY_LONGEST_STEP",
    "FREQUENCIES",
    "check_dates",
    "infer_frequency",
    "insert_missing_dates",
    "parse_dates",
    "show_date",
]

#: The calendar frequencies skyield recognises by name.
FREQUENCIES = ("daily", "weekly", "monthly", "quarterly", "annual")
#: Longest step (calendar days) between two dates of a daily panel that is not a gap:
#: a weekend next to a holiday or two. A week without any date is a gap.
DAILY_LONGEST_STEP = 7

_DAY_NS = 86_400_000_000_000
# Median steps (days) by which the frequency of an irregular index is recognised.
_TYPICAL_STEP = {
    "daily": (0.5, 4.5),
    "weekly": (5.5, 8.5),
    "monthly": (26.0, 35.0),
    "quarterly": (85.0, 95.0),
    "annual": (350.0, 380.0),
}
_PERIOD = {"monthly": "M", "quarterly": "Q-DEC", "annual": "Y-DEC"}
_PERIOD_WORD = {"daily": "day", "weekly": "week", "monthly": "month",
                "quarterly": "quarter", "annual": "year"}
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_OFFSET_FREQUENCY = (
    ((offsets.Day, offsets.BusinessDay, offsets.CustomBusinessDay), "daily"),
    ((offsets.Week,), "weekly"),
    ((offsets.MonthEnd, offsets.MonthBegin, offsets.BusinessMonthEnd,
      offsets.BusinessMonthBegin), "monthly"),
    ((offsets.QuarterEnd, offsets.QuarterBegin, offsets.BQuarterEnd,
      offsets.BQuarterBegin), "quarterly"),
    ((offsets.YearEnd, offsets.YearBegin, offsets.BYearEnd, offsets.BYearBegin), "annual"),
)
_ISO = re.compile(r"\d{4}-\d{2}(-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?)?")
# Two numbers of at most two digits, then a year: day/month/year or month/day/year.
_NUMERIC_DATE = re.compile(r"(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})")
_DEFAULT_HINT = (
    "Select a span without gaps; a model that handles missing values "
    "(NeuralStateSpaceModel) can take the missing dates as rows of missing values: "
    "skyield.preprocessing.insert_missing_dates(panel)."
)


def show_date(value):
    """A date as ``YYYY-MM-DD`` when it has no time of day, else as pandas prints it."""
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return str(value.date())
    return str(value)


# ---------------------------------------------------------------------------- parsing

def _where(position, first_line):
    return f"entry {position}" if first_line is None else f"line {first_line + position}"


def _day_month_readings(text):
    """The dates a ``nn/nn/yyyy`` text reads as, day first and month first (or None)."""
    match = _NUMERIC_DATE.fullmatch(text)
    if match is None:
        return None
    first, separator, second, year = match.groups()
    year_format = "%Y" if len(year) == 4 else "%y"
    readings = {}
    for order, layout in (("day first", ("%d", "%m")), ("month first", ("%m", "%d"))):
        fmt = separator.join(layout) + separator + year_format
        try:
            readings[order] = (pd.to_datetime(text, format=fmt), fmt)
        except ValueError:
            continue
    return readings


def _both_readings(text):
    """``"reads both as <day first> (day first) and <month first> (month first)"`` for a
    ``nn/nn/yyyy`` text whose two readings differ, else None."""
    readings = _day_month_readings(text)
    if not readings or len(readings) != 2 or \
            readings["day first"][0] == readings["month first"][0]:
        return None
    day, month = readings["day first"][0], readings["month first"][0]
    return f"reads both as {show_date(day)} (day first) and {show_date(month)} (month first)"


def _formats_reading_all(texts):
    """The day-first and month-first formats (of the first text's layout) under which
    every text is a date."""
    readings = _day_month_readings(texts[0]) or {}
    return [fmt for _, fmt in readings.values()
            if pd.to_datetime(pd.Series(texts), format=fmt, errors="coerce").notna().all()]


def parse_dates(values, date_format=None, *, name="dates", first_line=None):
    """Read text dates without guessing their format.

    Parameters
    ----------
    values : array-like of str, or DatetimeIndex
        The dates as text (a DatetimeIndex is returned unchanged).
    date_format : str, default=None
        A ``strftime`` format (e.g. ``"%d/%m/%Y"``) that every value must match. None
        accepts ISO 8601 dates only (``YYYY-MM-DD``, ``YYYY-MM``, with or without a time of
        day).
    name : str, default="dates"
        Name used in error messages.
    first_line : int, default=None
        Line of a file that holds the first value: errors then name lines (else the
        position of the entry, from 0).

    Returns
    -------
    dates : DatetimeIndex

    Raises
    ------
    ValueError
        Naming the first value that is not a date of the expected format. Without
        ``date_format``, a value such as ``01/02/1990`` is refused with both of its
        readings (1 February day first, 2 January month first) and the formats under
        which every value is a date.

    Examples
    --------
    >>> from skyield.utils import parse_dates
    >>> parse_dates(["2020-01-31", "2020-02-29"]).strftime("%d %b %Y").tolist()
    ['31 Jan 2020', '29 Feb 2020']
    >>> parse_dates(["01/02/1990"], date_format="%d/%m/%Y")[0].date()
    datetime.date(1990, 2, 1)
    """
    if isinstance(values, pd.DatetimeIndex):
        return values
    texts = pd.Index(values).astype(object)
    if len(texts) == 0:
        return pd.DatetimeIndex([])
    for position, value in enumerate(texts):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(
                f"{name}: {_where(position, first_line)} holds {value!r}, not a date"
            )
    texts = [value.strip() for value in texts]
    if date_format is not None:
        parsed = pd.to_datetime(pd.Series(texts), format=date_format, errors="coerce")
        bad = np.flatnonzero(parsed.isna().to_numpy())
        if bad.size:
            position = int(bad[0])
            raise ValueError(
                f"{name}: {_where(position, first_line)} holds {texts[position]!r}, which "
                f"does not match date_format={date_format!r}"
            )
        return pd.DatetimeIndex(parsed)
    not_iso = [i for i, text in enumerate(texts) if not _ISO.fullmatch(text)]
    if not_iso:
        raise ValueError(_not_iso_message(texts, not_iso, name, first_line))
    try:
        return pd.DatetimeIndex(pd.to_datetime(pd.Series(texts), format="ISO8601"))
    except ValueError:
        for position, text in enumerate(texts):
            try:
                pd.Timestamp(text)
            except ValueError:
                raise ValueError(
                    f"{name}: {_where(position, first_line)} holds {text!r}, which is not "
                    f"a valid date"
                ) from None
        raise


def _not_iso_message(texts, not_iso, name, first_line):
    """Why the first non-ISO text is refused, and which explicit formats would read all."""
    fitting = _formats_reading_all([texts[i] for i in not_iso])
    ambiguous = None
    for position in not_iso:
        both = _both_readings(texts[position])
        if both is not None:
            ambiguous = position, both
            break
    options = " or ".join(f"date_format={fmt!r}" for fmt in fitting) or \
        "date_format= (e.g. '%d/%m/%Y')"
    advice = (f"dates must be ISO (YYYY-MM-DD) unless their format is given: pass "
              f"{options} (skyield benchmark: --date-format)")
    if ambiguous is not None:
        position, both = ambiguous
        return (f"{name}: {_where(position, first_line)} holds {texts[position]!r}, which "
                f"{both}; {advice}")
    position = not_iso[0]
    return (f"{name}: {_where(position, first_line)} holds {texts[position]!r}, which is "
            f"not an ISO date; {advice}")


# ---------------------------------------------------------------------------- frequencies

def _offset_frequency(offset):
    if getattr(offset, "n", 1) == 1:
        for kinds, frequency in _OFFSET_FREQUENCY:
            if isinstance(offset, kinds):
                return frequency
    return offset.freqstr


def _period_frequency(freq):
    base = pd.Period("2000-01-01", freq=freq).freqstr
    for frequency, prefix in (("daily", ("D", "B")), ("weekly", ("W",)),
                              ("monthly", ("M",)), ("quarterly", ("Q",)),
                              ("annual", ("Y", "A"))):
        if freq.n == 1 and base.split("-")[0] in prefix:
            return frequency
    return freq.freqstr


def _set_frequency(index):
    """The frequency of an index built regular (its ``freq`` is set), else None."""
    return None if index.freq is None else _offset_frequency(index.freq)


def _nanoseconds(index):
    """The dates as integer nanoseconds (pandas may hold them in other units)."""
    return index.as_unit("ns").asi8


def _median_step_days(index):
    return float(np.median(np.diff(_nanoseconds(index)))) / _DAY_NS


def _typical_frequency(index):
    """The calendar frequency that most steps between the dates are typical of, else None.

    A vote rather than the median step, so that neither a few gaps (longer steps) nor a
    few dates of another frequency hide the panel's own.
    """
    steps = np.diff(_nanoseconds(index)) / _DAY_NS
    votes = {frequency: int(np.count_nonzero((steps >= low) & (steps <= high)))
             for frequency, (low, high) in _TYPICAL_STEP.items()}
    frequency = max(votes, key=votes.get)
    return frequency if votes[frequency] else None


def _frequency_of(index):
    """The frequency of three or more dates without a ``freq``, and whether the calendar
    check applies to it.

    A calendar frequency when most steps are typical of one; else pandas' exact
    inference (hourly data, every other month), which holds for every step. pandas is
    not asked first: with few dates it finds offsets such as the fourth Friday of the
    month in a monthly panel with a gap.
    """
    typical = _typical_frequency(index)
    if typical is not None:
        return typical, True
    inferred = pd.infer_freq(index)
    return (None if inferred is None else _offset_frequency(to_offset(inferred))), False


def _naive(index):
    return index.tz_convert(None) if index.tz is not None else index


def _periods(index, frequency):
    """Calendar periods of ``index`` at ``frequency`` (weekly: weeks ending on the most
    common weekday of the dates)."""
    if frequency == "weekly":
        anchor = _WEEKDAYS[int(np.bincount(index.dayofweek, minlength=7).argmax())]
        return _naive(index).to_period(f"W-{anchor}")
    return _naive(index).to_period(_PERIOD[frequency])


def infer_frequency(index):
    """The frequency of a dated index: a name of :data:`FREQUENCIES`, or pandas' alias.

    Parameters
    ----------
    index : DatetimeIndex or PeriodIndex

    Returns
    -------
    frequency : str or None
        ``"daily"``, ``"weekly"``, ``"monthly"``, ``"quarterly"`` or ``"annual"``; pandas'
        alias for other regular spacings (``"h"``, ``"2ME"``); None for fewer than three
        dates without a ``freq``, or when no step is typical of a frequency. The dates
        are not checked: see :func:`check_dates`.

    Examples
    --------
    >>> import pandas as pd
    >>> from skyield.utils import infer_frequency
    >>> infer_frequency(pd.DatetimeIndex(["2020-01-31", "2020-02-28", "2020-03-30"]))
    'monthly'
    """
    if isinstance(index, pd.PeriodIndex):
        return _period_frequency(index.freq)
    if index.freq is not None or len(index) < 3:
        return _set_frequency(index)
    return _frequency_of(index)[0]


# ---------------------------------------------------------------------------- checking

def _ordered_problem(index, name):
    """Duplicated or decreasing dates, as an error message (None when in order)."""
    if index.has_duplicates:
        repeated = index[index.duplicated()].unique()
        shown = ", ".join(show_date(v) for v in repeated[:5])
        more = f" and {len(repeated) - 5} more" if len(repeated) > 5 else ""
        return (f"{name} has duplicated dates: {shown}{more} appear(s) more than once; "
                f"every date must appear once")
    if not index.is_monotonic_increasing:
        values = index.to_numpy()
        position = int(np.flatnonzero(~(values[:-1] < values[1:]))[0])
        return (f"{name} dates must be sorted in increasing order: "
                f"{show_date(index[position + 1])} follows {show_date(index[position])} "
                f"(rows {position} and {position + 1})")
    return None


def _count(number, frequency):
    return f"{number} {frequency} date is" if number == 1 else \
        f"{number} {frequency} dates are"


def _calendar_problem(index, frequency, name):
    """The first gap or doubled period of a calendar frequency (None when regular), how
    many such steps there are, and whether the first is a gap."""
    daily = frequency == "daily"
    if daily:
        steps = np.diff(_nanoseconds(_naive(index).normalize())) // _DAY_NS
        bad = np.flatnonzero((steps == 0) | (steps > DAILY_LONGEST_STEP))
    else:
        steps = np.diff(_periods(index, frequency).asi8)
        bad = np.flatnonzero(steps != 1)
    if not bad.size:
        return None, 0, False
    row = int(bad[0])
    before, after = show_date(index[row]), show_date(index[row + 1])
    rows = f"rows {row} and {row + 1}"
    word = _PERIOD_WORD[frequency]
    if steps[row] == 0:
        problem = (f"{name} has two dates in the same {word}: {before} and {after} ({rows}); "
                   f"a {frequency} panel has one date a {word} (mixed frequencies?)")
    elif daily:
        problem = (f"{name} skips {int(steps[row])} days between {before} and {after} "
                   f"({rows}): daily dates may step over weekends and holidays, at most "
                   f"{DAILY_LONGEST_STEP} days")
    else:
        problem = (f"{name}: {_count(int(steps[row]) - 1, frequency)} missing between "
                   f"{before} and {after} ({rows})")
    return problem, int(bad.size), bool(steps[row] != 0)


def _period_index_problem(index, name):
    steps = np.diff(index.asi8)
    bad = np.flatnonzero(steps != index.freq.n)
    if not bad.size:
        return None, 0, False
    row = int(bad[0])
    missing = int(steps[row] // index.freq.n) - 1
    return (f"{name}: {_count(missing, _period_frequency(index.freq))} missing between "
            f"{index[row]} and {index[row + 1]} (rows {row} and {row + 1})", int(bad.size),
            True)


def _is_text(index):
    return pd.api.types.is_string_dtype(index.dtype) and len(index) > 0 and \
        all(isinstance(value, str) for value in index[:50])


def check_dates(index, *, name="Y", freq=None, hint=None):
    """Check that the dates of a panel are unique, increasing and evenly spaced.

    Parameters
    ----------
    index : pandas.Index
        The row labels of a panel. Dates (DatetimeIndex, PeriodIndex) are checked in
        full; other labels (row numbers) only for order and uniqueness. Text is refused:
        parse it with :func:`parse_dates` first.
    name : str, default="Y"
        Name of the panel in error messages.
    freq : {"daily", "weekly", "monthly", "quarterly", "annual"}, default=None
        The frequency the dates must have; None infers it (:func:`infer_frequency`).
    hint : str, default=None
        What to do about a gap, appended to its message; by default, how to select a
        span or insert the missing dates.

    Returns
    -------
    frequency : str or None
        The frequency of the dates (see :func:`infer_frequency`); None for row numbers
        and for fewer than three dates without a ``freq``.

    Raises
    ------
    ValueError
        Naming the offending dates and rows: duplicated dates, dates out of order, a gap
        (dates missing at the panel's frequency), two dates in one period (mixed
        frequencies), steps that match no frequency, or a frequency other than ``freq``.

    Examples
    --------
    >>> import pandas as pd
    >>> from skyield.utils import check_dates
    >>> dates = pd.date_range("2000-01-31", periods=6, freq="ME")
    >>> check_dates(dates)
    'monthly'
    >>> check_dates(dates.delete(2))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Y: 1 monthly date is missing between 2000-02-29 and 2000-04-30 (rows 1 and 2). ...
    """
    if freq is not None and freq not in FREQUENCIES:
        raise ValueError(f"freq must be one of {FREQUENCIES} or None, got {freq!r}")
    if _is_text(index):
        raise ValueError(
            f"{name} is indexed by text ({index[0]!r}, ...), not by dates: read the dates "
            f"with skyield.utils.parse_dates (ISO dates, or date_format= for others) first"
        )
    problem = _ordered_problem(index, name)
    if problem is not None:
        raise ValueError(problem)
    if not isinstance(index, (pd.DatetimeIndex, pd.PeriodIndex)):
        return None
    if isinstance(index, pd.PeriodIndex):
        frequency = _period_frequency(index.freq)
        problem, count, gap = _period_index_problem(index, name)
    else:
        frequency, calendar = _set_frequency(index), False
        if frequency is None and len(index) >= 3:
            frequency, calendar = _frequency_of(index)
            if frequency is None:
                steps = np.diff(_nanoseconds(index)) / _DAY_NS
                raise ValueError(
                    f"{name}: the dates are not evenly spaced at any frequency: their "
                    f"steps range from {steps.min():g} to {steps.max():g} days (median "
                    f"{np.median(steps):g}), which is no daily, weekly, monthly, quarterly "
                    f"or annual spacing"
                )
        elif frequency is None and freq is not None and len(index) == 2:
            frequency, calendar = freq, True
        problem, count, gap = _calendar_problem(index, frequency, name) if calendar else \
            (None, 0, False)
    if freq is not None and frequency is not None and frequency != freq:
        raise ValueError(f"{name}: the dates are {frequency}, not {freq} as given")
    if problem is not None:
        more = f" (the first of {count} such steps)" if count > 1 else ""
        advice = (_DEFAULT_HINT if hint is None else hint) if gap else ""
        raise ValueError(f"{problem}{more}. {advice}".rstrip())
    return frequency


# ---------------------------------------------------------------------------- filling gaps

def _period_dates(periods, like):
    """A date in each period: the period's first day when every date of ``like`` is,
    else its last day."""
    at_start = bool((_naive(like).normalize() == _naive(like).to_period(
        periods.freq).start_time).all())
    dates = periods.start_time if at_start else periods.end_time.normalize()
    if like.tz is not None:
        dates = dates.tz_localize("UTC").tz_convert(like.tz)
    return dates


def insert_missing_dates(panel, freq=None, *, name="panel"):
    """Insert the dates a panel skips as rows of missing values.

    For models that handle missing values (the Kalman filter of
    :class:`skyield.models.NeuralStateSpaceModel` skips unobserved dates): a gap then
    becomes missing rows, never a longer step between two rows. Every other model refuses
    the result as it refuses missing values, so nothing is filled in.

    Parameters
    ----------
    panel : DataFrame of shape (n_dates, n_series)
        Indexed by sorted, unique dates (DatetimeIndex or PeriodIndex).
    freq : {"daily", "weekly", "monthly", "quarterly", "annual"}, default=None
        The panel's frequency; None infers it from the steps between the dates.
    name : str, default="panel"
        Name of the panel in error messages.

    Returns
    -------
    filled : DataFrame of shape (n_dates + n_missing, n_series)
        The panel with one NaN row per missing date: monthly, quarterly and annual
        dates at the end of their period (at its start when every date of the panel is
        the first day of its period), weekly dates on the panel's usual weekday, daily
        dates on the business days of a gap longer than :data:`DAILY_LONGEST_STEP` days
        (every day when the panel has weekend dates).

    Raises
    ------
    ValueError
        When the dates are not sorted and unique, two dates fall in one period (mixed
        frequencies cannot be mended by inserting dates), or no frequency fits.

    Examples
    --------
    >>> import pandas as pd
    >>> from skyield.preprocessing import insert_missing_dates
    >>> panel = pd.DataFrame({"10Y": [4.0, 4.1, 4.3]},
    ...                      index=pd.to_datetime(["2020-01-31", "2020-02-28", "2020-05-29"]))
    >>> insert_missing_dates(panel).index.strftime("%Y-%m-%d").tolist()
    ['2020-01-31', '2020-02-28', '2020-03-31', '2020-04-30', '2020-05-29']
    """
    if not isinstance(panel, pd.DataFrame):
        raise ValueError(f"{name} must be a DataFrame indexed by dates")
    index = panel.index
    if isinstance(index, pd.MultiIndex):
        raise ValueError(f"{name} has a MultiIndex: insert the missing dates of each family "
                         f"on its own")
    if not isinstance(index, (pd.DatetimeIndex, pd.PeriodIndex)):
        raise ValueError(f"{name} must be indexed by dates, not by {type(index).__name__}")
    problem = _ordered_problem(index, name)
    if problem is not None:
        raise ValueError(problem)
    if isinstance(index, pd.PeriodIndex):
        full = pd.period_range(index[0], index[-1], freq=index.freq, name=index.name)
        return panel.reindex(full)
    if len(index) < 2:
        return panel.copy()
    frequency = freq or _set_frequency(index) or _typical_frequency(index)
    if frequency not in FREQUENCIES:
        if index.freq is not None or (len(index) >= 3 and pd.infer_freq(index)):
            return panel.copy()  # regular at a spacing of its own: nothing is missing
        raise ValueError(
            f"{name}: no daily, weekly, monthly, quarterly or annual frequency fits its "
            f"dates (median step {_median_step_days(index):g} days); pass freq="
        )
    if frequency == "daily":
        inserted = _daily_gap_dates(index, name)
    else:
        periods = _periods(index, frequency)
        if periods.has_duplicates:
            problem = _calendar_problem(index, frequency, name)[0]
            raise ValueError(f"{problem}; inserting dates cannot mend that")
        full = pd.period_range(periods[0], periods[-1], freq=periods.freq)
        inserted = _period_dates(full.difference(periods), index)
    full_index = index.append(pd.DatetimeIndex(inserted, tz=index.tz)).sort_values()
    return panel.reindex(full_index.rename(index.name))


def _daily_gap_dates(index, name):
    naive = _naive(index).normalize()
    days = np.diff(_nanoseconds(naive)) // _DAY_NS
    if np.any(days == 0):
        problem = _calendar_problem(index, "daily", name)[0]
        raise ValueError(f"{problem}; inserting dates cannot mend that")
    weekends = bool((naive.dayofweek >= 5).any())
    dates = []
    for row in np.flatnonzero(days > DAILY_LONGEST_STEP):
        between = pd.date_range(naive[row], naive[row + 1], freq="D" if weekends else "B")
        dates.extend(between[1:-1])
    return pd.DatetimeIndex(dates)
