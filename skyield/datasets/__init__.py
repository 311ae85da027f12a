"""Bundled real data and simulators of the reference papers' processes.

The CSV files (some gzip-compressed) in ``skyield/datasets/data`` ship with the package (provenance in
``SOURCES.md`` beside them); nothing is downloaded at run time. A user's own CSV file is
read by :func:`read_panel_csv`, through the same data intake as every panel.
"""

from skyield.datasets._csv import read_panel_csv
from skyield.datasets._dfm_processes import (
    dfm_error_logpdf,
    dfm_measurement_mean,
    dfm_process_spec,
    dfm_shock_logpdf,
    dfm_state_mean,
    make_dfm_process,
    spow,
)
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
from skyield.datasets._nelson_siegel_curves import make_nelson_siegel_curves

__all__ = [
    "common_maturities",
    "describe_dataset",
    "dfm_error_logpdf",
    "dfm_measurement_mean",
    "dfm_process_spec",
    "dfm_shock_logpdf",
    "dfm_state_mean",
    "eiopa_benchmark_selection",
    "international_curve_types",
    "list_datasets",
    "load_coincident_indicators",
    "load_eiopa_curves",
    "load_gsw_zero",
    "load_international_curves",
    "load_nber_recessions",
    "load_treasury_cmt",
    "make_dfm_process",
    "make_nelson_siegel_curves",
    "read_panel_csv",
    "spow",
]
