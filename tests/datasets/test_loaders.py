"""Tests of the bundled real-data loaders against the facts recorded in data/SOURCES.md."""

import hashlib
import shutil
from importlib.resources import files

import numpy as np
import pandas as pd
import pytest

from skyield.datasets._io import CHECKSUMS_FILE, DATA_FILES, read_data_csv, verify_data_files
from skyield.datasets._loaders import (
    common_maturities,
    describe_dataset,
    eiopa_benchmark_selection,
    international_curve_types,
    list_datasets,
    load_coincident_indicators,
    load_eiopa_curves,
    load_gsw_zero,
    load_international_curves,
    load_nber_recessions,
    load_treasury_cmt,
)
from skyield.datasets._macro import _apply_incomplete_rule, apply_tcode

CMT_YEARS = [1 / 12, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 20.0, 30.0]
FRED_ONLY = {20.0: ("1987-01-01", "1993-09-30"), 30.0: ("2002-02-19", "2006-02-08")}


def _raw(name, **kwargs):
    with (files("skyield.datasets") / "data" / name).open("rb") as handle:
        return pd.read_csv(handle, **kwargs)


# --- package data -------------------------------------------------------------------------

def test_package_data_match_recorded_checksums():
    digests = verify_data_files()
    # Every data file the loaders read is covered by the recorded digests, and only those.
    assert sorted(digests) == sorted(name for name in DATA_FILES if name != "SOURCES.md")
    for name, digest in digests.items():
        packaged = (files("skyield.datasets") / "data" / name).read_bytes()
        assert hashlib.sha256(packaged).hexdigest() == digest


@pytest.fixture
def data_copy(tmp_path):
    """A copy of the small bundled files with their own digest list."""
    names = ["nber_recessions.csv", "fredmd_coincident_tcodes.csv"]
    source = files("skyield.datasets") / "data"
    lines = []
    for name in names:
        content = (source / name).read_bytes()
        (tmp_path / name).write_bytes(content)
        lines.append(f"{hashlib.sha256(content).hexdigest()}  {name}")
    (tmp_path / CHECKSUMS_FILE).write_text("\n".join(lines) + "\n")
    shutil.copy(source / "SOURCES.md", tmp_path / "SOURCES.md")
    return tmp_path


def test_verify_data_files_accepts_an_intact_copy(data_copy):
    assert sorted(verify_data_files(data_copy)) == ["fredmd_coincident_tcodes.csv",
                                                    "nber_recessions.csv"]


def test_verify_data_files_names_changed_missing_and_unlisted_files(data_copy):
    changed = data_copy / "nber_recessions.csv"
    changed.write_bytes(changed.read_bytes().replace(b"2009-06-01", b"2009-07-01"))
    (data_copy / "fredmd_coincident_tcodes.csv").unlink()
    (data_copy / "new_curves.csv.gz").write_bytes(b"not listed")
    with pytest.raises(ValueError) as error:
        verify_data_files(data_copy)
    message = str(error.value)
    assert "'new_curves.csv.gz' is not listed in CHECKSUMS.sha256" in message
    assert "'fredmd_coincident_tcodes.csv' is listed in CHECKSUMS.sha256 but missing" in message
    assert "'nber_recessions.csv' has SHA-256 " in message


def test_verify_data_files_rejects_malformed_lines(data_copy):
    manifest = data_copy / CHECKSUMS_FILE
    manifest.write_text(manifest.read_text() + "abc nber_recessions.csv\n")
    with pytest.raises(ValueError, match=r"CHECKSUMS.sha256 line 3 is not '<sha256>  <name>': "
                                         r"'abc nber_recessions.csv'"):
        verify_data_files(data_copy)


@pytest.mark.parametrize("name", [n for n in DATA_FILES if n.endswith(".csv") and "tcodes" not in n
                                  and "nber" not in n])
def test_data_files_sorted_with_unique_keys(name):
    raw = _raw(name)
    keys = ["date", "family"] if "family" in raw.columns else ["date"]
    assert not raw.duplicated(keys).any()
    assert raw.sort_values(keys, kind="stable").index.equals(raw.index)


def test_returned_frames_are_copies():
    first = load_treasury_cmt("monthly")
    first.iloc[:, :] = -1.0
    first.attrs["labels"].append("changed")
    again = load_treasury_cmt("monthly")
    assert again.loc["2013-06-28", 10.0] == 2.52
    assert "changed" not in again.attrs["labels"]


# --- Treasury CMT -------------------------------------------------------------------------

def test_cmt_layout_and_attrs():
    cmt = load_treasury_cmt()
    assert cmt.shape == (16018, 11)
    assert cmt.index.name == "date" and isinstance(cmt.index, pd.DatetimeIndex)
    assert cmt.index.is_monotonic_increasing and cmt.index.is_unique
    np.testing.assert_allclose(cmt.columns.to_numpy(), CMT_YEARS)
    assert cmt.columns.dtype == np.float64 and (cmt.dtypes == np.float64).all()
    assert cmt.attrs["labels"] == ["1M", "3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y", "20Y",
                                   "30Y"]
    assert cmt.attrs["units"] == "percent"
    assert cmt.attrs["curve_type"] == "par"
    assert cmt.attrs["frequency"] == "daily"
    assert "Treasury" in cmt.attrs["source"]


def test_cmt_plausibility_values_from_sources():
    ten = load_treasury_cmt(maturities="10Y")[10.0]
    assert ten["2013-05-01"] == 1.66
    assert ten["2013-06-28"] == 2.52
    assert ten["2013-09-05"] == 2.98
    assert round(ten["1995":"1997"].mean(), 2) == 6.46
    assert round(ten["2012":"2016"].mean(), 2) == 2.13
    assert ten.max() == 15.84 and ten.idxmax() == pd.Timestamp("1981-09-30")
    assert ten.min() == 0.52 and ten.idxmin() == pd.Timestamp("2020-08-04")


def test_cmt_missing_data_by_design():
    cmt = load_treasury_cmt()
    missing = dict(zip(cmt.attrs["labels"], cmt.isna().sum()))
    assert missing == {"1M": 9878, "3M": 4902, "6M": 4902, "1Y": 0, "2Y": 3592, "3Y": 283,
                       "5Y": 0, "7Y": 2153, "10Y": 0, "20Y": 0, "30Y": 3770}
    assert cmt[1 / 12].first_valid_index() == pd.Timestamp("2001-07-31")
    for years in (3.0, 7.0):
        assert cmt[years].last_valid_index() == pd.Timestamp("2024-12-31")
        assert cmt.loc["2025":, years].isna().all()
    assert cmt.loc["2025":, 10.0].notna().all()


def test_cmt_weekly_is_last_value_in_week_ending_friday():
    daily = load_treasury_cmt(start="2012", end="2014")
    weekly = load_treasury_cmt("weekly", start="2012-01-06", end="2014-12-26")
    assert (weekly.index.dayofweek == 4).all()
    assert weekly.attrs["frequency"] == "weekly"
    for friday in weekly.index:
        week = daily.loc[friday - pd.Timedelta(days=6):friday]
        expected = week.ffill().iloc[-1]
        pd.testing.assert_series_equal(weekly.loc[friday], expected, check_names=False)
    # Good Friday 2013-03-29 has no row: the week is still dated by that Friday and holds
    # Thursday's values.
    assert pd.Timestamp("2013-03-29") not in daily.index
    assert weekly.loc["2013-03-29", 10.0] == daily.loc["2013-03-28", 10.0] == 1.87


def test_cmt_weekly_columns_take_their_own_last_value():
    weekly = load_treasury_cmt("weekly", start="2024-12", end="2025-01")
    assert weekly.loc["2025-01-03", 3.0] == load_treasury_cmt().loc["2024-12-31", 3.0]
    assert weekly.loc["2025-01-03", 10.0] == load_treasury_cmt().loc["2025-01-03", 10.0]
    assert weekly.loc["2025-01-10":, 3.0].isna().all()


def test_cmt_weekly_span_and_last_week():
    weekly = load_treasury_cmt("weekly")
    assert weekly.index[0] == pd.Timestamp("1962-01-05")
    assert weekly.index[-1] == pd.Timestamp("2026-02-20")
    assert weekly.index.is_unique and len(weekly) == 3347


def test_cmt_monthly_is_bundled_file_and_equals_daily_month_end():
    monthly = load_treasury_cmt("monthly")
    assert len(monthly) == 769
    assert monthly.index[[0, -1]].tolist() == [pd.Timestamp("1962-01-31"),
                                               pd.Timestamp("2026-01-30")]
    daily = load_treasury_cmt(end="2026-01")
    months = daily.index.to_period("M")
    last_values = daily.groupby(months).last()
    last_dates = daily.index.to_series().groupby(months).max()
    assert monthly.index.equals(pd.DatetimeIndex(last_dates.to_numpy(), name="date"))
    np.testing.assert_array_equal(monthly.to_numpy(), last_values.to_numpy())


@pytest.mark.parametrize("freq", ["daily", "weekly", "monthly"])
def test_cmt_observed_only_blanks_exactly_the_fred_only_periods(freq):
    full = load_treasury_cmt(freq)
    observed = load_treasury_cmt(freq, observed_only=True)
    assert observed.attrs["observed_only"] is True
    changed = full.notna() & observed.isna()
    assert not (observed.notna() & full.isna()).any().any()
    assert (observed.fillna(-1) == full.fillna(-1))[~changed].all().all()
    for column in full.columns:
        inside = np.zeros(len(full), dtype=bool)
        if column in FRED_ONLY:
            first, last = FRED_ONLY[column]
            inside = (full.index >= first) & (full.index <= last)
        np.testing.assert_array_equal(changed[column].to_numpy(), inside, err_msg=str(column))
    assert changed[20.0].any() and changed[30.0].any()


@pytest.mark.parametrize("freq", ["weekly", "monthly"])
def test_cmt_observed_only_keeps_no_value_from_a_fred_only_day(freq):
    daily = load_treasury_cmt(observed_only=True)
    observed = load_treasury_cmt(freq, observed_only=True)
    for column, (first, last) in FRED_ONLY.items():
        edges = observed.loc[pd.Timestamp(first) - pd.Timedelta(days=40):
                             pd.Timestamp(last) + pd.Timedelta(days=40), column].dropna()
        assert len(edges) > 0
        for date, value in edges.items():
            days = 6 if freq == "weekly" else date.day - 1
            kept = daily.loc[date - pd.Timedelta(days=days):date, column].dropna()
            assert kept.iloc[-1] == value, (column, date)


def test_cmt_maturity_selection_accepts_labels_and_years_sorted():
    picked = load_treasury_cmt("monthly", maturities=["10Y", 0.25, "DGS1MO", 2])
    np.testing.assert_allclose(picked.columns.to_numpy(), [1 / 12, 0.25, 2.0, 10.0])
    assert picked.attrs["labels"] == ["1M", "3M", "2Y", "10Y"]
    assert load_treasury_cmt("monthly", maturities=1 / 12).columns.tolist() == [1 / 12]
    assert load_treasury_cmt("monthly", maturities="7").columns.tolist() == [7.0]


def test_cmt_unknown_maturity_names_it_and_lists_available():
    with pytest.raises(ValueError, match=r"maturity '4Y' \(4 years\) is not in the U.S. "
                                         r"Treasury CMT data; available: 1M .*30Y"):
        load_treasury_cmt(maturities=["10Y", "4Y"])
    with pytest.raises(ValueError, match=r"maturity 10 repeats '10Y' \(10 years\)"):
        load_treasury_cmt(maturities=["10Y", 10])
    with pytest.raises(ValueError, match="maturities is empty"):
        load_treasury_cmt(maturities=[])
    with pytest.raises(ValueError, match="maturity 'ten years'"):
        load_treasury_cmt(maturities="ten years")
    with pytest.raises(TypeError, match="maturities must be labels"):
        load_treasury_cmt(maturities=[None])


def test_bad_freq_and_flags():
    with pytest.raises(ValueError, match=r"freq='quarterly' is not supported; use one of "
                                         r"\['daily', 'weekly', 'monthly'\]"):
        load_treasury_cmt("quarterly")
    with pytest.raises(TypeError, match="freq must be one of"):
        load_gsw_zero(None)
    with pytest.raises(TypeError, match="observed_only must be True or False"):
        load_treasury_cmt(observed_only="yes")


def test_date_bounds_are_inclusive_at_their_own_resolution():
    cmt = load_treasury_cmt(start="2013-05", end="2013")
    assert cmt.index[0] == pd.Timestamp("2013-05-01")
    assert cmt.index[-1] == pd.Timestamp("2013-12-31")
    one_day = load_treasury_cmt(start=pd.Timestamp("2013-06-28"), end="2013-06-28")
    assert len(one_day) == 1


def test_date_bound_errors():
    with pytest.raises(ValueError, match=r"start='2014' is after end='2013-06'"):
        load_treasury_cmt(start="2014", end="2013-06")
    with pytest.raises(ValueError, match=r"start='not a date' is not a date"):
        load_treasury_cmt(start="not a date")
    with pytest.raises(ValueError, match=r"no U.S. Treasury CMT dates between start='2030'.*"
                                         r"1962-01-02 .. 2026-02-20"):
        load_treasury_cmt(start="2030")
    with pytest.raises(ValueError, match="end=.* carries a time zone"):
        load_treasury_cmt(end=pd.Timestamp("2013-01-01", tz="UTC"))
    with pytest.raises(TypeError, match="start must be a date string"):
        load_gsw_zero(start=2013)


def test_date_bounds_are_read_as_iso_never_guessed():
    # Text that is not ISO is refused, the ambiguous with both its readings; pandas' own
    # guess read 01/02/2005 month first and 13/02/2005 day first.
    with pytest.raises(ValueError, match=r"start='01/02/2005' is not a date: it reads both "
                                         r"as 2005-02-01 \(day first\) and 2005-01-02 "
                                         r"\(month first\).*YYYY-MM-DD"):
        load_treasury_cmt(start="01/02/2005")
    with pytest.raises(ValueError, match=r"end='13/02/2005' is not a date: only ISO dates"):
        load_gsw_zero(end="13/02/2005")
    with pytest.raises(ValueError, match=r"start='2005Q1' is not a date"):
        load_eiopa_curves(start="2005Q1")
    with pytest.raises(ValueError, match=r"end='2005-02-30' is not a date: day is out"):
        load_international_curves(end="2005-02-30")
    # ISO text at every resolution, datetimes and periods stay bounds.
    for start, end in [("2005", "2005-01"), ("2005-01-03", " 2005-01-31 "),
                       ("2005-01-03T00:00", pd.Timestamp("2005-01-31")),
                       (pd.Period("2005-01", freq="M"), pd.Period("2005-01", freq="M"))]:
        cmt = load_treasury_cmt(start=start, end=end)
        assert cmt.index[0] == pd.Timestamp("2005-01-03")
        assert cmt.index[-1] == pd.Timestamp("2005-01-31")


# --- GSW ----------------------------------------------------------------------------------

def test_gsw_plausibility_values_and_layout():
    monthly = load_gsw_zero("monthly", maturities="SVENY10", start="2013-04", end="2013-06")
    assert monthly[10.0].round(2).tolist() == [1.74, 2.25, 2.64]
    gsw = load_gsw_zero()
    assert gsw.shape == (16041, 30)
    assert gsw.columns.tolist() == [float(n) for n in range(1, 31)]
    assert gsw.attrs["curve_type"] == "zero" and gsw.attrs["compounding"] == "continuous"
    assert gsw.attrs["labels"][4] == "SVENY05"
    assert (gsw[10.0].min(), gsw[10.0].max()) == (0.5202, 14.9398)
    starts = {years: gsw[years].first_valid_index() for years in (7.0, 8.0, 15.0, 16.0, 30.0)}
    assert starts == {7.0: pd.Timestamp("1961-06-14"), 8.0: pd.Timestamp("1971-08-16"),
                      15.0: pd.Timestamp("1971-11-15"), 16.0: pd.Timestamp("1981-07-02"),
                      30.0: pd.Timestamp("1985-11-25")}


def test_gsw_monthly_equals_daily_month_end_and_weekly_rule():
    daily = load_gsw_zero(end="2025-09")
    monthly = load_gsw_zero("monthly")
    months = daily.index.to_period("M")
    np.testing.assert_array_equal(monthly.to_numpy(), daily.groupby(months).last().to_numpy())
    weekly = load_gsw_zero("weekly", maturities=[1, 10], start="2013-06-03", end="2013-06-30")
    assert weekly.index.tolist() == [pd.Timestamp(d) for d in
                                     ("2013-06-07", "2013-06-14", "2013-06-21", "2013-06-28")]
    assert weekly.loc["2013-06-28", 10.0] == daily.loc["2013-06-28", 10.0]


def test_gsw_parameters_only_monthly_and_only_recent():
    params = load_gsw_zero("monthly", parameters=True)
    assert params.columns.tolist() == ["BETA0", "BETA1", "BETA2", "BETA3", "TAU1", "TAU2"]
    assert len(params) == 772
    present = params.dropna()
    assert len(present) == 36
    assert present.index[[0, -1]].tolist() == [pd.Timestamp("2022-10-31"),
                                               pd.Timestamp("2025-09-30")]
    assert params.loc[:"2022-09"].isna().all().all()
    assert params.attrs["units"]["TAU1"] == "years"
    with pytest.raises(ValueError, match="parameters are bundled only in the monthly file"):
        load_gsw_zero("daily", parameters=True)
    with pytest.raises(ValueError, match="maturities cannot be combined with parameters=True"):
        load_gsw_zero("monthly", parameters=True, maturities="10Y")


# --- international curves -----------------------------------------------------------------

FAMILY_ROWS = {"AUD_RBA": 337, "CAD_BOC": 296, "CHF_SNB": 435, "EUR_AAA_ECB": 235,
               "JPY_MOF": 595, "USD_GSW": 772}


def test_international_layout_families_and_types():
    curves = load_international_curves()
    assert curves.index.names == ["family", "date"]
    assert curves.index.is_monotonic_increasing and curves.index.is_unique
    assert curves.groupby(level="family").size().to_dict() == FAMILY_ROWS
    assert curves.attrs["families"] == sorted(FAMILY_ROWS)
    np.testing.assert_allclose(curves.columns.to_numpy(),
                               [0.25, 0.5, *range(1, 11), 15, 20, 25, 30])
    assert (curves.dtypes == np.float64).all()
    dates = curves.index.get_level_values("date")
    assert (dates == dates + pd.offsets.MonthEnd(0)).all()
    assert international_curve_types() == {
        "AUD_RBA": "zero", "CAD_BOC": "zero", "CHF_SNB": "zero", "EUR_AAA_ECB": "zero",
        "JPY_MOF": "par", "USD_GSW": "zero"}
    assert curves.attrs["curve_types"]["JPY_MOF"] == "par"
    assert curves.attrs["curve_type"] == "mixed"
    par = load_international_curves(curve_type="par")
    assert par.attrs["families"] == ["JPY_MOF"] and par.attrs["curve_type"] == "par"


def test_international_values_never_filled_and_grids_exact():
    curves = load_international_curves()
    raw = _raw("intl_zero_curves_monthly.csv")
    for family, block in curves.groupby(level="family"):
        raw_block = raw.loc[raw["family"] == family, curves.attrs["labels"]]
        np.testing.assert_array_equal(block.to_numpy(), raw_block.to_numpy())
        has_values = block.columns[block.notna().any()].tolist()
        assert has_values == curves.attrs["grids"][family], family
    assert curves.loc["CHF_SNB"].columns[curves.loc["CHF_SNB"].notna().any()].tolist() == [
        2.0, 5.0, 10.0, 20.0]
    assert load_international_curves("CHF_SNB").columns.tolist() == [2.0, 5.0, 10.0, 20.0]


def test_international_aud_gap_has_no_rows():
    aud = load_international_curves("AUD_RBA").loc["AUD_RBA"]
    assert aud.loc["2013-05":"2016-12"].empty
    assert aud.index[aud.index < "2013-05-01"][-1] == pd.Timestamp("2013-04-30")
    assert aud.index[aud.index > "2016-12-31"][0] == pd.Timestamp("2017-01-31")


def test_international_usd_matches_gsw_month_ends_and_obs_date():
    curves, obs_date = load_international_curves("USD_GSW", maturities="10Y", start="2013-04",
                                                 end="2013-06", return_obs_date=True)
    assert curves[10.0].round(2).tolist() == [1.74, 2.25, 2.64]
    assert curves.index.get_level_values("date")[-1] == pd.Timestamp("2013-06-30")
    assert obs_date.iloc[-1] == pd.Timestamp("2013-06-28")
    assert obs_date.index.equals(curves.index)


def test_international_selection_errors():
    with pytest.raises(ValueError, match="unknown curve family 'GBP_BOE'; available: AUD_RBA, "
                                         "CAD_BOC, CHF_SNB, EUR_AAA_ECB, JPY_MOF, USD_GSW"):
        load_international_curves(["USD_GSW", "GBP_BOE"])
    with pytest.raises(ValueError, match="'JPY_MOF' holds par yields, which conflicts with "
                                         "curve_type='zero'"):
        load_international_curves("JPY_MOF", curve_type="zero")
    with pytest.raises(ValueError, match=r"curve_type='forward' is not supported"):
        load_international_curves(curve_type="forward")
    with pytest.raises(ValueError, match=r"maturity 3Y is provided by none of the selected "
                                         r"families \(CHF_SNB: 2Y, 5Y, 10Y, 20Y\)"):
        load_international_curves("CHF_SNB", maturities=["2Y", "3Y"])
    with pytest.raises(ValueError, match="no data for CAD_BOC .* CAD_BOC spans 1991-01 .. "
                                         "2015-08"):
        load_international_curves(["CAD_BOC", "USD_GSW"], start="2020")
    with pytest.raises(ValueError, match=r"start='2010' is after end='2005'"):
        load_international_curves(start="2010", end="2005")


def test_international_without_families_keeps_those_with_data_in_span():
    early = load_international_curves(end="1980")
    assert early.attrs["families"] == ["JPY_MOF", "USD_GSW"]


def test_common_maturities():
    overlap = load_international_curves(start="2004-09", end="2013-04")
    assert overlap.groupby(level="family").size().to_dict() == {f: 104 for f in FAMILY_ROWS}
    assert common_maturities(overlap) == [2.0, 5.0, 10.0]
    assert common_maturities(overlap, ["AUD_RBA", "CAD_BOC", "EUR_AAA_ECB", "JPY_MOF",
                                       "USD_GSW"]) == [float(n) for n in range(1, 11)]
    full = load_international_curves()
    assert common_maturities(full, "USD_GSW") == [float(n) for n in range(1, 8)]
    assert common_maturities(full, "USD_GSW", how="any") == full.attrs["grids"]["USD_GSW"]
    with pytest.raises(ValueError, match=r"families \['GBP'\] are not in curves"):
        common_maturities(overlap, ["GBP"])
    with pytest.raises(TypeError, match=r"\(family, date\) MultiIndex"):
        common_maturities(load_treasury_cmt("monthly"))


# --- EIOPA curves ----------------------------------------------------------------------

EURO_AREA = ["AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "IE", "IT", "LT", "LU",
             "LV", "MT", "NL", "PT", "SI", "SK"]
ENDS_2024_12 = ["BR", "CL", "IN", "KR", "MX", "MY", "NZ", "SG", "TH", "TR", "ZA"]


def test_eiopa_file_sorted_with_unique_keys():
    raw = _raw("eiopa_rfr_spot_monthly.csv.gz", compression="gzip")
    assert raw.shape == (7147, 153)
    assert not raw.duplicated(["date", "family"]).any()
    assert raw.sort_values(["date", "family"], kind="stable").index.equals(raw.index)


def test_eiopa_layout_units_and_values_as_published():
    curves = load_eiopa_curves()
    assert curves.index.names == ["family", "date"]
    assert curves.index.is_monotonic_increasing and curves.index.is_unique
    np.testing.assert_array_equal(curves.columns.to_numpy(), np.arange(1.0, 151.0))
    assert (curves.dtypes == np.float64).all() and curves.notna().all().all()
    dates = curves.index.get_level_values("date")
    assert (dates == dates + pd.offsets.MonthEnd(0)).all()
    assert (dates.min(), dates.max()) == (pd.Timestamp("2014-12-31"), pd.Timestamp("2026-06-30"))
    assert curves.attrs["units"] == "percent" and curves.attrs["compounding"] == "annual"
    assert curves.attrs["countries"]["TR"] == "Turkey"
    # Percent, as in the release: the sterling curve on 2014-12-31 at 10 years.
    assert curves.loc[("GB", "2014-12-31"), 10.0] == 1.773
    raw = _raw("eiopa_rfr_spot_monthly.csv.gz", compression="gzip")
    for family in ("EU", "TR", "US"):
        block = raw.loc[raw["family"] == family, [f"{n}Y" for n in range(1, 151)]]
        np.testing.assert_array_equal(curves.loc[family].to_numpy(), block.to_numpy())
    sizes = curves.groupby(level="family").size()
    assert sizes.loc[ENDS_2024_12].eq(121).all() and sizes.loc["RU"] == 117
    assert sizes.drop(ENDS_2024_12 + ["RU"]).eq(139).all()


def test_eiopa_duplicate_rule_keeps_one_family_per_distinct_curve():
    seed = load_eiopa_curves(start="2015-12", end="2021-12")
    every = load_eiopa_curves(start="2015-12", end="2021-12", duplicates="keep")
    assert len(every.attrs["families"]) == 53 and len(seed.attrs["families"]) == 33
    assert seed.attrs["duplicates"] == {"EU": EURO_AREA, "CH": ["LI"]}
    assert every.attrs["duplicates"] == seed.attrs["duplicates"]
    assert "EU" in seed.attrs["families"] and "CH" in seed.attrs["families"]
    assert not set(EURO_AREA + ["LI"]) & set(seed.attrs["families"])
    assert seed.shape == (33 * 73, 150) and every.shape == (53 * 73, 150)
    for representative, others in every.attrs["duplicates"].items():
        for family in others:
            pd.testing.assert_frame_equal(every.loc[family], every.loc[representative])
    # The kept curves are pairwise different, and nothing else changes.
    blocks = [seed.loc[f].to_numpy() for f in seed.attrs["families"]]
    assert all(not np.array_equal(a, b) for i, a in enumerate(blocks) for b in blocks[:i])
    pd.testing.assert_frame_equal(seed, every.loc[seed.attrs["families"]])
    # Groups follow the selection: Croatia adopts the euro curve in 2023.
    assert "HR" in load_eiopa_curves(start="2023", end="2024").attrs["duplicates"]["EU"]
    assert "HR" in load_eiopa_curves(end="2022").attrs["families"]
    # Without the euro curve, a group is represented by its first family alphabetically.
    pair = load_eiopa_curves(["LI", "DE", "FR", "CH"], maturities=[1, 10])
    assert pair.attrs["families"] == ["CH", "DE"]
    assert pair.attrs["duplicates"] == {"CH": ["LI"], "DE": ["FR"]}


def test_eiopa_span_and_maturity_selection():
    curves = load_eiopa_curves(["TR", "EU"], maturities=["10Y", 1, 30.0], start="2021-01",
                               end="2021")
    assert curves.columns.tolist() == [1.0, 10.0, 30.0]
    assert curves.attrs["labels"] == ["1Y", "10Y", "30Y"]
    assert curves.attrs["families"] == ["EU", "TR"]
    assert curves.index.get_level_values("date").unique().tolist() == list(
        pd.date_range("2021-01-31", "2021-12-31", freq="ME"))
    recent = load_eiopa_curves(start="2025")
    assert not set(ENDS_2024_12 + ["RU"]) & set(recent.attrs["families"])


def test_eiopa_selection_errors_name_the_value_and_the_valid_range():
    with pytest.raises(ValueError, match=r"unknown EIOPA family 'UK'; available .*: AT, AU"):
        load_eiopa_curves(["GB", "UK"])
    with pytest.raises(ValueError, match=r"maturity 0.5 \(0.5 years\) is not in the EIOPA "
                                         r"data; available: whole years 1Y .. 150Y"):
        load_eiopa_curves(maturities=[0.5, 1])
    with pytest.raises(ValueError, match=r"maturity '200Y' .*available: whole years 1Y .. 150Y"):
        load_eiopa_curves(maturities="200Y")
    with pytest.raises(ValueError, match=r"no data for TR between start='2025' and end=None; "
                                         r"TR spans 2014-12 .. 2024-12"):
        load_eiopa_curves(["TR", "GB"], start="2025")
    with pytest.raises(ValueError, match=r"no EIOPA release between start='2027' and "
                                         r"end=None; the releases span 2014-12-31 .. 2026-06-30"):
        load_eiopa_curves(start="2027")
    with pytest.raises(ValueError, match=r"duplicates='first' is not supported; use one of "
                                         r"\['drop', 'keep'\]"):
        load_eiopa_curves(duplicates="first")
    with pytest.raises(ValueError, match=r"family 'TR' is requested more than once"):
        load_eiopa_curves(["TR", "TR"])
    with pytest.raises(ValueError, match=r"start='2022' is after end='2021'"):
        load_eiopa_curves(start="2022", end="2021")


def test_eiopa_benchmark_selection_is_a_balanced_panel():
    curves = load_eiopa_curves(**eiopa_benchmark_selection())
    assert curves.columns.tolist() == [1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0]
    assert len(curves.attrs["families"]) == 33
    assert curves.groupby(level="family").size().eq(117).all()
    assert curves.notna().all().all()


# --- coincident indicators and recessions ------------------------------------------------

def test_coincident_levels_as_published():
    levels = load_coincident_indicators()
    assert levels.shape == (796, 4)
    assert levels.columns.tolist() == ["INDPRO", "CMRMTSPLx", "W875RX1", "AWHMAN"]
    assert levels.index[[0, -1]].tolist() == [pd.Timestamp("1959-01-01"),
                                              pd.Timestamp("2025-04-01")]
    assert levels.isna().sum().to_dict() == {"INDPRO": 0, "CMRMTSPLx": 1, "W875RX1": 0,
                                             "AWHMAN": 0}
    assert np.isnan(levels.loc["2025-04-01", "CMRMTSPLx"])
    assert levels.loc["1959-01-01", "INDPRO"] == 21.9616
    assert levels.attrs["tcodes"] == {"INDPRO": 5, "CMRMTSPLx": 5, "W875RX1": 5, "AWHMAN": 1}


def test_coincident_transform_is_log_difference_and_level():
    x = load_coincident_indicators(transform=True)
    assert x.shape == (796, 4)
    assert x.loc["1959-02-01", "INDPRO"] == pytest.approx(np.log(22.3917 / 21.9616), abs=1e-12)
    assert x.loc["1959-02-01", "INDPRO"] == pytest.approx(0.019395, abs=1e-6)
    assert x.loc["1959-02-01", "AWHMAN"] == 40.3
    assert x.iloc[0, :3].isna().all() and x.iloc[0, 3] == 40.2
    assert np.isnan(x.loc["2025-04-01", "CMRMTSPLx"])
    assert x.attrs["dropped_dates"] == []


def test_coincident_drop_edges_is_explicit():
    x = load_coincident_indicators(transform=True, incomplete="drop_edges")
    assert x.attrs["dropped_dates"] == ["1959-01-01", "2025-04-01"]
    assert x.index[[0, -1]].tolist() == [pd.Timestamp("1959-02-01"), pd.Timestamp("2025-03-01")]
    assert len(x) == 794 and x.notna().all().all()
    levels = load_coincident_indicators(incomplete="drop_edges")
    assert levels.attrs["dropped_dates"] == ["2025-04-01"]
    inside = load_coincident_indicators(transform=True, incomplete="raise", start="1960",
                                        end="2024")
    assert len(inside) == 65 * 12


def test_coincident_incomplete_errors():
    with pytest.raises(ValueError, match=r"CMRMTSPLx on 1959-01, 2025-04"):
        load_coincident_indicators(transform=True, incomplete="raise")
    with pytest.raises(ValueError, match=r"incomplete='drop_last' is not supported"):
        load_coincident_indicators(incomplete="drop_last")
    gap = pd.DataFrame({"a": [np.nan, 1.0, np.nan, 2.0, np.nan]},
                       index=pd.date_range("2000-01-01", periods=5, freq="MS"))
    with pytest.raises(ValueError, match="months inside the span are incomplete: 2000-03"):
        _apply_incomplete_rule(gap, "drop_edges")


def test_apply_tcode_known_values():
    x = pd.Series([1.0, 2.0, 4.0, 16.0], name="x")
    np.testing.assert_allclose(apply_tcode(x, 2), [np.nan, 1.0, 2.0, 12.0])
    np.testing.assert_allclose(apply_tcode(x, 3), [np.nan, np.nan, 1.0, 10.0])
    np.testing.assert_allclose(apply_tcode(x, 4), np.log(x))
    np.testing.assert_allclose(apply_tcode(x, 5), [np.nan, np.log(2), np.log(2), np.log(4)])
    np.testing.assert_allclose(apply_tcode(x, 6), [np.nan, np.nan, 0.0, np.log(2)])
    np.testing.assert_allclose(apply_tcode(x, 7), [np.nan, np.nan, 0.0, 2.0])
    with pytest.raises(ValueError, match="x: unknown FRED-MD transformation code 8"):
        apply_tcode(x, 8)
    with pytest.raises(ValueError, match="x: tcode 5 takes logs but the value on 2000-02-01"):
        apply_tcode(pd.Series([1.0, 0.0], name="x",
                              index=pd.date_range("2000-01-01", periods=2, freq="MS")), 5)


def test_nber_recessions():
    rec = load_nber_recessions()
    assert rec.columns.tolist() == ["peak", "trough"] and len(rec) == 12
    assert (rec["peak"] < rec["trough"]).all()
    assert rec["peak"].is_monotonic_increasing
    great = rec[rec["peak"].dt.year == 2007].iloc[0]
    assert (great["peak"], great["trough"]) == (pd.Timestamp("2007-12-01"),
                                                pd.Timestamp("2009-06-01"))


# --- catalogue ----------------------------------------------------------------------------

def test_list_datasets():
    table = list_datasets()
    assert table.index.tolist() == ["treasury_cmt", "gsw_zero", "international_curves",
                                    "eiopa_curves", "coincident_indicators",
                                    "nber_recessions"]
    assert {"loader", "frequency", "span", "columns", "curve_type", "source"} <= set(table)
    assert table.loc["treasury_cmt", "span"] == "1962-01-02 .. 2026-02-20"
    assert table.loc["gsw_zero", "span"] == "1961-06-14 .. 2025-10-03"
    assert table.loc["international_curves", "span"] == "1961-06-30 .. 2025-09-30"
    assert table.loc["eiopa_curves", "span"] == "2014-12-31 .. 2026-06-30"
    assert table.loc["treasury_cmt", "loader"] == "load_treasury_cmt"


def test_describe_dataset():
    text = describe_dataset("treasury_cmt")
    assert "span: 1962-01-02 .. 2026-02-20; 16018 dates" in text
    assert any(line.split()[:5] == ["3Y", "1962-01-02", "2024-12-31", "15735", "283"]
               for line in text.splitlines())
    weekly = describe_dataset("treasury_cmt", freq="weekly")
    assert "3347 dates" in weekly and "week" in weekly
    intl = describe_dataset("international_curves")
    assert "JPY_MOF (par): 1974-09-30 .. 2024-03-31, 595 month ends" in intl
    assert "CHF_SNB (zero): 1988-01-31 .. 2024-03-31, 435 month ends, maturities 2Y, 5Y, " \
           "10Y, 20Y" in intl
    assert "dropped incomplete months: 1959-01-01, 2025-04-01" in describe_dataset(
        "coincident_indicators", transform=True, incomplete="drop_edges")
    assert "2007-12 2009-06" in describe_dataset("nber_recessions")
    eiopa = describe_dataset("eiopa_curves", start="2015-12", end="2021-12")
    assert "span: 2015-12-31 .. 2021-12-31; 73 releases, 2409 rows" in eiopa
    assert "  CH stands for LI" in eiopa
    assert "TR (Turkey): 2015-12-31 .. 2021-12-31, 73 month ends, 0 missing values" in eiopa
    with pytest.raises(ValueError, match="unknown dataset 'cmt'; available: treasury_cmt"):
        describe_dataset("cmt")


def test_read_data_csv_rejects_unknown_file():
    with pytest.raises(ValueError, match="'prices.csv' is not a bundled data file"):
        read_data_csv("prices.csv")
