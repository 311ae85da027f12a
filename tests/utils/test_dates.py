"""The dates, numbers and units of the data intake (skyield.utils._dates, validation)."""

import warnings

import numpy as np
import pandas as pd
import pytest

from skyield.preprocessing import insert_missing_dates
from skyield.utils import (
    UnitsWarning,
    check_dates,
    check_numeric,
    check_panel,
    check_units,
    infer_frequency,
    parse_dates,
)


def _dates(texts):
    return pd.DatetimeIndex(pd.to_datetime(texts))


# -- parsing --------------------------------------------------------------------------------

def test_parse_dates_names_lines_and_suggests_the_formats_that_read_every_value():
    with pytest.raises(ValueError, match=r"line 2 holds '13/01/1990'.*date_format='%d/%m/%Y'"):
        parse_dates(["13/01/1990", "14/01/1990"], first_line=2)
    with pytest.raises(ValueError, match=r"line 3 has no date|line 3 holds nan"):
        parse_dates(["1990-01-31", float("nan")], first_line=2)
    with pytest.raises(ValueError, match="'1990-02-30', which is not a valid date"):
        parse_dates(["1990-01-31", "1990-02-30"])
    iso = parse_dates(["2020-01", "2020-02-15", "2020-03-31 12:00"])
    assert iso.strftime("%Y-%m-%d %H").tolist() == ["2020-01-01 00", "2020-02-15 00",
                                                     "2020-03-31 12"]
    assert parse_dates(pd.DatetimeIndex(["2020-01-31"])).equals(pd.DatetimeIndex(["2020-01-31"]))


# -- order and spacing ----------------------------------------------------------------------

def test_bundled_calendars_are_regular():
    month_ends = _dates(["2018-01-31", "2018-02-28", "2018-03-29", "2018-04-30"])  # Good Friday
    assert check_dates(month_ends) == "monthly"
    weekly = _dates(["2019-04-12", "2019-04-18", "2019-04-26", "2019-05-03"])  # a Thursday
    assert check_dates(weekly) == "weekly"
    business = pd.bdate_range("2020-12-20", "2021-01-10").drop(pd.Timestamp("2020-12-25"))
    assert check_dates(business) == "daily"
    assert check_dates(pd.date_range("2000", periods=5, freq="h")) == "h"
    assert check_dates(pd.date_range("2000-01-31", periods=5, freq="2ME")) == "2ME"
    assert check_dates(pd.RangeIndex(5)) is None
    assert check_dates(_dates(["2020-01-31", "2020-03-31"])) is None  # too few to tell


@pytest.mark.parametrize("dates, message", [
    (["2020-01-31", "2020-02-29", "2020-02-29"], "duplicated dates: 2020-02-29"),
    (["2020-02-29", "2020-01-31", "2020-03-31"], r"2020-01-31 follows 2020-02-29 \(rows 0 and 1\)"),
    (["2020-01-31", "2020-02-29", "2020-05-29", "2020-06-30"],
     r"2 monthly dates are missing between 2020-02-29 and 2020-05-29 \(rows 1 and 2\)"),
    (["2020-01-31", "2020-02-14", "2020-02-28", "2020-03-31", "2020-04-30"],
     "two dates in the same month: 2020-02-14 and 2020-02-28"),
    (["2020-01-06", "2020-01-07", "2020-01-08", "2020-01-20"], "skips 12 days between"),
    (["2020-01-01", "2020-01-13", "2020-02-02", "2020-03-18"], "not evenly spaced"),
])
def test_irregular_dates_are_named(dates, message):
    with pytest.raises(ValueError, match=message):
        check_dates(_dates(dates))


def test_gaps_of_period_indexes_and_a_given_frequency():
    months = pd.period_range("2000-01", periods=6, freq="M")
    assert check_dates(months) == "monthly"
    with pytest.raises(ValueError, match="1 monthly date is missing between 2000-02 and 2000-04"):
        check_dates(months.delete(2))
    with pytest.raises(ValueError, match="the dates are monthly, not weekly"):
        check_dates(months, freq="weekly")
    with pytest.raises(ValueError, match="missing between 2000-01-31 and 2000-03-31"):
        check_dates(_dates(["2000-01-31", "2000-03-31"]), freq="monthly")
    with pytest.raises(ValueError, match="gap hint"):
        check_dates(months.delete(2), hint="gap hint")


def test_text_indexes_are_refused_and_panels_carry_their_frequency():
    frame = pd.DataFrame({"1Y": [1.0, 2.0]}, index=["2020-01-31", "2020-02-29"])
    with pytest.raises(ValueError, match="indexed by text .*parse_dates"):
        check_panel(frame)
    frame.index = parse_dates(frame.index)
    assert check_panel(frame).values.shape == (2, 1)
    weekly = pd.DataFrame({"1Y": np.arange(4.0)},
                          index=pd.date_range("2020", periods=4, freq="W-FRI"))
    assert check_panel(weekly).frequency == "weekly" and check_panel(weekly).curve
    assert infer_frequency(_dates(["2020-01-31", "2020-02-28", "2020-05-29"])) == "monthly"


# -- gaps as missing rows -------------------------------------------------------------------

def test_missing_dates_are_inserted_at_the_panel_s_own_place_in_the_period():
    starts = pd.DataFrame({"x": [1.0, 2.0, 3.0]},
                          index=_dates(["2020-01-01", "2020-02-01", "2020-05-01"]))
    assert insert_missing_dates(starts).index.strftime("%m-%d").tolist() == [
        "01-01", "02-01", "03-01", "04-01", "05-01"]
    weeks = pd.DataFrame({"x": [1.0, 2.0, 3.0]},
                         index=_dates(["2020-01-03", "2020-01-10", "2020-01-31"]))
    filled = insert_missing_dates(weeks)
    assert filled.index.strftime("%d").tolist() == ["03", "10", "17", "24", "31"]
    assert filled["x"].isna().tolist() == [False, False, True, True, False]
    days = pd.DataFrame({"x": np.arange(4.0)},
                        index=_dates(["2020-01-02", "2020-01-03", "2020-01-20", "2020-01-21"]))
    assert len(insert_missing_dates(days)) == 4 + 10  # the business days of the gap
    periods = pd.DataFrame({"x": [1.0, 2.0]}, index=pd.PeriodIndex(["2020-01", "2020-03"],
                                                                     freq="M"))
    assert len(insert_missing_dates(periods)) == 3
    mixed = pd.DataFrame({"x": np.arange(4.0)}, index=_dates(
        ["2020-01-31", "2020-02-14", "2020-02-28", "2020-03-31"]))
    with pytest.raises(ValueError, match="same month.*cannot mend"):
        insert_missing_dates(mixed)


# -- numbers and units ----------------------------------------------------------------------

def test_the_numeric_rule():
    check_numeric(np.array([1, 2.5], dtype=object))  # numbers held as objects are numbers
    check_numeric(pd.DataFrame({"a": [1.0, None]}, dtype=object))
    with pytest.raises(ValueError, match=r"X holds booleans \(True at position 1\)"):
        check_numeric(np.array([1.0, True], dtype=object))
    with pytest.raises(ValueError, match=r"X column 'a' holds text \('2' at row 1\)"):
        check_numeric(pd.DataFrame({"a": [1, "2"]}, dtype=object))
    with pytest.raises(ValueError, match="holds booleans"):
        check_numeric(np.array([[True, False]]))


def test_units_warn_only_for_values_that_look_like_decimals():
    with pytest.warns(UnitsWarning, match=r"largest in size is 0.051"):
        check_units([[0.01, -0.051], [np.nan, 0.03]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_units([[1.5, 4.0]])
        check_units([[0.0, 0.0]])
        check_units([[np.nan]])
