"""Bundled real data and simulators of the reference papers' processes.

The CSV files (one gzip-compressed) in ``skyield/datasets/data`` ship with the package (provenance in
``SOURCES.md`` beside them); nothing is downloaded at run time.
"""

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
    "spow",
]
