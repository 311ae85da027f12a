"""Maturity parsing, windowing of panels and train-only scalers."""

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
    "make_family_windows",
    "make_windows",
    "parse_maturities",
    "parse_maturity",
]
