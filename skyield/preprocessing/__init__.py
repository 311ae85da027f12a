"""Maturity parsing, windowing of panels, missing dates and train-only scalers."""

from skyield.utils._dates import insert_missing_dates
from skyield.utils._maturities import parse_maturities, parse_maturity
from skyield.preprocessing._scalers import SeriesMinMaxScaler, SeriesStandardScaler
from skyield.preprocessing._windows import (
    PanelWindows,
    Windows,
    make_family_windows,
    make_windows,
)

__all__ = [
    "PanelWindows",
    "SeriesMinMaxScaler",
    "SeriesStandardScaler",
    "Windows",
    "insert_missing_dates",
    "make_family_windows",
    "make_windows",
    "parse_maturities",
    "parse_maturity",
]
