"""Public loaders of the bundled real datasets, gathered for re-export by ``skyield.datasets``.

The implementations live in small private modules: ``_us_curves`` (Treasury CMT, GSW),
``_international`` (multi-country curves), ``_eiopa`` (EIOPA risk-free curves),
``_macro`` (FRED-MD coincident indicators, NBER recessions) and ``_catalog`` (the
dataset table and summaries). The CSV files and their
provenance record (``SOURCES.md``) are in ``skyield/datasets/data``.
"""

from ._catalog import describe_dataset, list_datasets
from ._eiopa import eiopa_benchmark_selection, load_eiopa_curves
from ._international import (
    common_maturities,
    international_curve_types,
    load_international_curves,
)
from ._macro import load_coincident_indicators, load_nber_recessions
from ._us_curves import load_gsw_zero, load_treasury_cmt

__all__ = [
    "common_maturities",
    "describe_dataset",
    "eiopa_benchmark_selection",
    "international_curve_types",
    "list_datasets",
    "load_coincident_indicators",
    "load_eiopa_curves",
    "load_gsw_zero",
    "load_international_curves",
    "load_nber_recessions",
    "load_treasury_cmt",
]
