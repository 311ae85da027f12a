"""A user's CSV file read through the data intake (skyield.datasets.read_panel_csv)."""

import numpy as np
import pandas as pd
import pytest

from skyield.datasets import read_panel_csv


def _file(tmp_path, text, name="curves.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


MONTHS = "".join(f"2020-{m:02d}-{d},{1 + m / 10:.1f},{2 + m / 10:.1f}\n"
                 for m, d in [(1, 31), (2, 29), (3, 31), (4, 30), (5, 29), (6, 30)])


def test_a_clean_file_is_read_as_numbers_on_dates(tmp_path):
    panel = read_panel_csv(_file(tmp_path, "\ufeffday,10Y,2Y\n" + MONTHS))
    assert panel.index.name == "day" and panel.columns.tolist() == ["10Y", "2Y"]
    assert panel.dtypes.eq(np.float64).all() and panel.iloc[0].tolist() == [1.1, 2.1]
    chosen = read_panel_csv(_file(tmp_path, "date,10Y,2Y\n" + MONTHS), maturities=[2, "10Y"])
    assert chosen.columns.tolist() == ["2Y", "10Y"]  # in order of maturity


def test_missing_cells_are_kept_and_text_cells_are_named(tmp_path):
    panel = read_panel_csv(_file(tmp_path, "date,2Y,10Y\n2020-01-31,,1.0\n2020-02-29,NA,2\n"
                                           "2020-03-31,1.5,2.5\n"))
    assert panel["2Y"].isna().sum() == 2
    with pytest.raises(ValueError, match=r"line 3, column '10Y' holds '\.', which is not a "
                                         r"number"):
        read_panel_csv(_file(tmp_path, "date,2Y,10Y\n2020-01-31,1,1\n2020-02-29,1,.\n"))
    with pytest.raises(ValueError, match="'1,5'.*decimal comma"):
        read_panel_csv(_file(tmp_path, 'date,2Y\n2020-01-31,"1,5"\n'))


@pytest.mark.parametrize("text, message", [
    ("", "is empty"),
    ("date,2Y\n", "no data lines"),
    ("date\n2020-01-31\n", "one column only"),
    ("date,2Y,2Y\n2020-01-31,1,1\n", r"\['2Y'\] appear more than once"),
    ("date,2Y\n2020-01-31,1,5\n", "line 2 has 3 fields but the header has 2"),
    ("date\t2Y\n2020-01-31\t1.5\n", r"looks separated by '\\t'"),
])
def test_malformed_files_are_named(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_panel_csv(_file(tmp_path, text))


def test_the_span_is_cut_before_the_spacing_is_checked(tmp_path):
    gapped = "date,2Y\n2019-06-28,1\n" + "".join(line.split(",")[0] + ",1\n"
                                                for line in MONTHS.splitlines())
    path = _file(tmp_path, gapped)
    with pytest.raises(ValueError, match="6 monthly dates are missing between 2019-06-28 and "
                                         "2020-01-31.*missing_dates='insert'"):
        read_panel_csv(path)
    assert len(read_panel_csv(path, start="2020-01")) == 6
    filled = read_panel_csv(path, missing_dates="insert")
    assert len(filled) == 13 and filled["2Y"].isna().sum() == 6
    with pytest.raises(ValueError, match="no date between start='2021' and end=None"):
        read_panel_csv(path, start="2021")


def test_unsorted_dates_outside_the_span_are_not_its_concern(tmp_path):
    path = _file(tmp_path, "date,2Y\n2020-03-31,1\n2020-01-31,1\n2020-02-29,1\n")
    with pytest.raises(ValueError, match="2020-01-31 follows 2020-03-31"):
        read_panel_csv(path)
    assert read_panel_csv(path, end="2020-02").index.equals(
        pd.DatetimeIndex(["2020-01-31", "2020-02-29"], name="date"))


def test_span_bounds_are_read_as_iso_whatever_the_file_date_format(tmp_path):
    path = _file(tmp_path, "date,2Y\n31/01/2020,1\n29/02/2020,1\n31/03/2020,1\n")
    with pytest.raises(ValueError, match=r"start='01/02/2020' is not a date: it reads both "
                                         r"as 2020-02-01 \(day first\) and 2020-01-02"):
        read_panel_csv(path, date_format="%d/%m/%Y", start="01/02/2020")
    assert read_panel_csv(path, date_format="%d/%m/%Y", start="2020-02").index.equals(
        pd.DatetimeIndex(["2020-02-29", "2020-03-31"], name="date"))
