"""Bundled real data and simulators of the reference papers' processes.

The CSV files in ``skyield/datasets/data`` ship with the package (provenance in
``SOURCES.md`` beside them); nothing is downloaded at run time.
"""

from skyield.datasets._loaders import (
    common_maturities,
    describe_dataset,
    international_curve_types,
    list_datasets,
    load_coincident_indicators,
    load_gsw_zero,
    load_international_curves,
    load_nber_recessions,
    load_treasury_cmt,
)

__all__ = [
    "common_maturities",
    "describe_dataset",
    "international_curve_types",
    "list_datasets",
    "load_coincident_indicators",
    "load_gsw_zero",
    "load_international_curves",
    "load_nber_recessions",
    "load_treasury_cmt",
]
