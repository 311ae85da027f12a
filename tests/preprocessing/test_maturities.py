import numpy as np
import pytest

from skyield.preprocessing import parse_maturities, parse_maturity


@pytest.mark.parametrize(
    "label, years",
    [
        ("3M", 0.25), ("6 Mo", 0.5), ("1 Mo", 1 / 12), ("10Y", 10.0), ("10 Yr", 10.0),
        ("30 yrs", 30.0), ("0.25y", 0.25), ("2W", 2 / 52), ("91D", 91 / 365),
        ("DGS10", 10.0), ("DGS1MO", 1 / 12), ("DGS3MO", 0.25), ("SVENY05", 5.0),
        ("sveny30", 30.0), ("18 months", 1.5),
    ],
)
def test_labels_are_read_in_years(label, years):
    assert parse_maturity(label) == pytest.approx(years)


def test_plain_numbers_need_a_unit():
    assert parse_maturity(18, unit="months") == 1.5
    assert parse_maturity("7", unit="years") == 7.0
    with pytest.raises(ValueError, match="plain number; pass unit="):
        parse_maturity(10)


@pytest.mark.parametrize("label", ["abc", "-3M", "", "3M6"])
def test_unreadable_labels_raise(label):
    with pytest.raises(ValueError, match="cannot read maturity label"):
        parse_maturity(label)


def test_unknown_unit_is_named():
    with pytest.raises(ValueError, match="unknown maturity unit 'q'"):
        parse_maturity("5Q")


def test_parse_maturities_names_the_offending_column():
    assert np.allclose(parse_maturities(["3M", "1Y", "DGS10"]), [0.25, 1.0, 10.0])
    with pytest.raises(ValueError, match=r"column 1 \('bad'\)"):
        parse_maturities(["3M", "bad"])
