"""Curve utilities for actuarial and fixed-income work.

Discount factors, zero, forward and par rates of one curve or a stack of curves,
bootstrapping, Smith-Wilson extrapolation to an ultimate forward rate as in EIOPA's
Solvency II methodology, and present values of cash-flow profiles under a curve or a
cube of scenario curves ``(n_paths, n_horizons, n_maturities)``.

Conventions, the same in every function:

- maturities and times are in years; curves have maturities on their last axis (arrays)
  or as labels (a Series index, DataFrame columns such as ``"3M"``, ``"10Y"``);
- rates are decimals (``0.03``) unless ``units="percent"`` (``3.0``), in and out;
- ``compounding`` is ``"continuous"`` (the default), ``"simple"``, ``"annual"``,
  ``"semiannual"``, ``"quarterly"``, ``"monthly"`` or an integer number of periods a
  year; par yields are coupon rates compounded at their coupon ``frequency``;
- between maturities, ``interpolation="linear_zero"`` (linear in continuously
  compounded zero rates) or ``"log_linear_discount"`` (linear in log discount factors);
  flat zero rate before the first maturity, no extrapolation past the last one except
  :func:`smith_wilson`;
- bad input (missing values, unsorted maturities, times past the curve) raises an error
  naming what is wrong and where; nothing is filled or clipped.

Conversions
    :func:`zero_to_discount`, :func:`discount_to_zero`, :func:`convert_compounding`,
    :func:`interpolate_zero`.
Forward rates
    :func:`zero_to_forward` (discrete, between maturities),
    :func:`instantaneous_forward`.
Par yields
    :func:`zero_to_par`, :func:`par_to_zero` (bootstrap).
Extrapolation
    :func:`smith_wilson`, :class:`SmithWilsonCurve`.
Valuation
    :func:`present_value`.
"""

from ._conventions import convert_compounding
from ._interpolation import interpolate_zero
from ._par import par_to_zero, zero_to_par
from ._present_value import present_value
from ._rates import discount_to_zero, instantaneous_forward, zero_to_discount, zero_to_forward
from ._smith_wilson import SmithWilsonCurve, smith_wilson

__all__ = [
    "SmithWilsonCurve",
    "convert_compounding",
    "discount_to_zero",
    "instantaneous_forward",
    "interpolate_zero",
    "par_to_zero",
    "present_value",
    "smith_wilson",
    "zero_to_discount",
    "zero_to_forward",
    "zero_to_par",
]
