"""Reading curves given as arrays or pandas objects, and returning results alike.

A curve is a set of values (rates or discount factors) at maturities in years. It comes
as a 1-D array, a pandas Series indexed by maturity labels, an array whose last axis runs
over maturities (several curves, e.g. ``(n_dates, n_maturities)`` or a scenario cube
``(n_paths, n_horizons, n_maturities)``), or a DataFrame with one row per date and one
column per maturity. Labels such as ``"3M"`` or ``"10Y"`` (or numbers, read as years)
give the maturities when ``maturities`` is not passed.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from skyield.utils import check_numeric, resolve_maturities

__all__ = ["Curve", "check_curve", "check_times", "wrap_like"]


@dataclass(frozen=True)
class Curve:
    """A validated curve: ``values[..., j]`` belongs to ``maturities[j]``."""

    maturities: np.ndarray
    values: np.ndarray
    like: object  # the caller's pandas object (or None), to shape the result alike


def _position(values, flat_index, like):
    index = np.unravel_index(flat_index, values.shape)
    if isinstance(like, pd.DataFrame):
        return f"row {like.index[index[0]]!r}, column {like.columns[index[1]]!r}"
    if isinstance(like, pd.Series):
        return f"label {like.index[index[0]]!r}"
    return f"position {tuple(int(i) for i in index)}"


def check_curve(maturities, values, name="rates", *, positive=False):
    """Validate a curve (or a stack of curves) and its maturities.

    Parameters
    ----------
    maturities : array-like of shape (n_maturities,) or None
        Maturities in years, finite, positive and strictly increasing. None reads them from
        the index of a Series or the columns of a DataFrame.
    values : array-like of shape (..., n_maturities), Series or DataFrame
    name : str
        Name used in error messages.
    positive : bool, default=False
        Require positive values (discount factors).

    Returns
    -------
    curve : Curve
    """
    like = values if isinstance(values, (pd.Series, pd.DataFrame)) else None
    if isinstance(values, pd.Series):
        labels = list(values.index)
    elif isinstance(values, pd.DataFrame):
        labels = list(values.columns)
    else:
        labels = None
    if like is not None:
        # Text (even "1.5"), booleans, complex numbers and repeated labels are refused.
        check_numeric(values, name)
        array = values.to_numpy(dtype=float, na_value=np.nan)
    else:
        array = np.asarray(values)
        if array.dtype.kind not in "iuf":
            raise ValueError(f"{name} must be numeric, got an array of dtype {array.dtype}")
        array = array.astype(float)
    if array.ndim == 0:
        raise ValueError(f"{name} must have a last axis over maturities, got a scalar")
    if maturities is None and labels is None:
        raise ValueError(
            f"pass maturities=[...] in years for {name} given as an array, or a pandas "
            f"Series/DataFrame whose index/columns are maturity labels such as '3M' or '10Y'"
        )
    n_maturities = array.shape[-1]
    if maturities is None:
        numeric = [isinstance(label, (int, float, np.integer, np.floating))
                   and not isinstance(label, bool) for label in labels]
        tau = np.asarray(labels, dtype=float) if all(numeric) else resolve_maturities(
            None, n_maturities, labels)
    else:
        check_numeric(maturities, "maturities")
        tau = np.asarray(maturities, dtype=float)
    tau = np.atleast_1d(tau)
    if tau.ndim != 1 or tau.shape[0] != n_maturities:
        raise ValueError(
            f"maturities have shape {tau.shape} but {name} has {n_maturities} maturities on "
            f"its last axis"
        )
    if not np.all(np.isfinite(tau)) or np.any(tau <= 0):
        raise ValueError(f"maturities must be finite and positive years, got {tau.tolist()}")
    steps = np.diff(tau)
    if np.any(steps <= 0):
        j = int(np.flatnonzero(steps <= 0)[0])
        raise ValueError(
            f"maturities must be strictly increasing: {tau[j + 1]:g} years follows "
            f"{tau[j]:g} years"
        )
    bad = ~np.isfinite(array)
    if bad.any():
        raise ValueError(
            f"{name} has a missing or infinite value at "
            f"{_position(array, int(np.flatnonzero(bad)[0]), like)}"
        )
    if positive:
        bad = array <= 0
        if bad.any():
            flat = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{name} must be positive; found {array.flat[flat]!r} at "
                f"{_position(array, flat, like)}"
            )
    return Curve(maturities=tau, values=array, like=like)


def check_times(times, name="times", *, allow_zero=False):
    """Validate a 1-D array of times in years (finite, positive or non-negative)."""
    check_numeric(times, name)
    tau = np.atleast_1d(np.asarray(times, dtype=float))
    if tau.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {tau.shape}")
    if tau.size == 0:
        raise ValueError(f"{name} is empty")
    low_ok = tau >= 0 if allow_zero else tau > 0
    if not np.all(np.isfinite(tau)) or not np.all(low_ok):
        sign = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be finite and {sign} years, got {tau.tolist()}")
    return tau


def wrap_like(result, like, columns=None):
    """Return ``result`` as ``like``'s pandas type (same index; ``columns`` if given)."""
    if like is None:
        return result
    if isinstance(like, pd.Series):
        index = like.index if columns is None else pd.Index(columns)
        return pd.Series(result, index=index, name=like.name)
    return pd.DataFrame(result, index=like.index,
                        columns=like.columns if columns is None else pd.Index(columns))
