"""Input checks and output aggregation shared by the metric functions.

Every public metric converts its inputs here, so that a wrong shape, a NaN, a
quantile level outside (0, 1) or a crossed interval produces one consistent
error message that names the offending argument (and, for values, the first
offending index).
"""

from numbers import Integral, Real

import numpy as np

from skyield.utils import check_increasing_levels, check_numeric

MULTIOUTPUT_OPTIONS = ("raw_values", "uniform_average", "by_horizon", "by_maturity")


def as_float_array(x, name, *, ndim=(1, 2, 3), finite=True, booleans=False):
    """Convert ``x`` to a float ndarray with an allowed number of axes.

    With ``finite=True`` (the default) NaN and infinite values are rejected. Text is
    refused, and booleans too unless ``booleans=True`` (hit indicators, read as 0 and 1).
    """
    if x is None:
        raise TypeError(f"{name} must be array-like of real numbers, got None.")
    arr = np.asarray(x)
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must hold real numbers, got complex dtype {arr.dtype}.")
    # Text is refused, even text that reads as a number ("1.5"), and so are booleans
    # where values are expected.
    if not (booleans and arr.dtype.kind == "b"):
        check_numeric(x, name)
    if arr.dtype.kind == "O":  # e.g. lists mixing ints, floats and None
        try:
            arr = arr.astype(float)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{name} must be array-like of real numbers, got dtype {arr.dtype}."
            ) from exc
    elif arr.dtype.kind not in ("biuf" if booleans else "iuf"):
        raise TypeError(f"{name} must be array-like of real numbers, got dtype {arr.dtype}.")
    arr = arr.astype(float, copy=False)
    if arr.ndim not in ndim:
        allowed = [str(d) for d in ndim]
        if len(allowed) > 1:
            allowed = [", ".join(allowed[:-1]) + " or " + allowed[-1]]
        allowed = allowed[0]
        raise ValueError(f"{name} must have {allowed} dimension(s), got shape {arr.shape}.")
    if arr.size == 0 or (arr.ndim > 0 and arr.shape[0] == 0):
        raise ValueError(f"{name} is empty (shape {arr.shape}); at least one sample is needed.")
    if finite:
        check_finite(arr, name)
    return arr


def check_finite(arr, name):
    """Raise a ValueError naming ``name`` and the first non-finite position."""
    bad = ~np.isfinite(arr)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(arr[index]) else "infinite"
        where = index[0] if len(index) == 1 else index
        raise ValueError(
            f"{name} contains {kind} values (first at index {where}); "
            "drop or fill them explicitly before scoring."
        )


def check_same_shape(a, b, name_a, name_b):
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {a.shape} and {b.shape}."
        )


def check_interval(lower, upper):
    """Check that ``lower <= upper`` everywhere (shapes already equal)."""
    crossed = lower > upper
    if crossed.any():
        index = tuple(int(i) for i in np.argwhere(crossed)[0])
        where = index[0] if len(index) == 1 else index
        raise ValueError(
            f"lower exceeds upper at index {where} (lower={float(lower[index])!r}, "
            f"upper={float(upper[index])!r}); an interval needs lower <= upper."
        )


def check_probability(value, name):
    """Check a scalar strictly inside (0, 1), e.g. a coverage level."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number in (0, 1), got {value!r}.")
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value!r}.")
    return value


def check_quantile_levels(quantiles, name="quantiles"):
    """Check a 1-D sequence of strictly increasing levels strictly inside (0, 1).

    The one rule of the package (:func:`skyield.utils.check_increasing_levels`).
    """
    return check_increasing_levels(as_float_array(quantiles, name, ndim=(0, 1)), name=name)


def check_quantile_predictions(y_true, y_quantiles, quantiles):
    """Validate ``y_quantiles`` of shape ``y_true.shape + (len(quantiles),)``."""
    y_true = as_float_array(y_true, "y_true")
    levels = check_quantile_levels(quantiles)
    y_quantiles = as_float_array(y_quantiles, "y_quantiles", ndim=(2, 3, 4))
    expected = y_true.shape + (levels.size,)
    if y_quantiles.shape != expected:
        raise ValueError(
            f"y_quantiles must have shape y_true.shape + (len(quantiles),) = {expected}, "
            f"got {y_quantiles.shape}."
        )
    return y_true, y_quantiles, levels


def check_sample_weight(sample_weight, n_samples):
    if sample_weight is None:
        return None
    weight = as_float_array(sample_weight, "sample_weight", ndim=(1,))
    if weight.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must have shape ({n_samples},) to match the first axis of "
            f"y_true, got {weight.shape}."
        )
    if (weight < 0).any():
        raise ValueError("sample_weight must be non-negative.")
    if weight.sum() <= 0:
        raise ValueError("sample_weight must have a positive sum.")
    return weight


def check_multioutput(multioutput, n_output_dims):
    """Validate ``multioutput`` against the number of output axes of y_true.

    ``n_output_dims`` is ``y_true.ndim - 1``: 0 for (n,), 1 for (n, M) and
    2 for (n, horizon, M).
    """
    if isinstance(multioutput, str):
        if multioutput not in MULTIOUTPUT_OPTIONS:
            raise ValueError(
                f"multioutput must be one of {MULTIOUTPUT_OPTIONS} or an array of output "
                f"weights, got {multioutput!r}."
            )
        if multioutput == "by_horizon" and n_output_dims != 2:
            raise ValueError(
                "multioutput='by_horizon' needs y_true of shape (n_samples, horizon, "
                f"n_maturities), got {n_output_dims + 1}-D y_true."
            )
        if multioutput == "by_maturity" and n_output_dims == 0:
            raise ValueError(
                "multioutput='by_maturity' needs y_true of shape (n_samples, n_maturities) "
                "or (n_samples, horizon, n_maturities), got 1-D y_true."
            )
        return multioutput
    return as_float_array(multioutput, "multioutput", ndim=(0, 1, 2))


def aggregate(values, *, sample_weight, multioutput, n_output_dims):
    """Average ``values`` over samples, then combine outputs.

    Parameters
    ----------
    values : ndarray of shape (n_samples, *outputs, *extra)
        Per-element losses; ``outputs`` has ``n_output_dims`` axes and
        ``extra`` axes (e.g. quantile levels) are kept as they are.
    sample_weight : ndarray of shape (n_samples,) or None
    multioutput : str or ndarray
        Already validated by :func:`check_multioutput`.
    n_output_dims : int

    Returns
    -------
    float or ndarray
    """
    per_output = np.average(values, axis=0, weights=sample_weight)
    output_shape = per_output.shape[:n_output_dims]
    output_axes = tuple(range(n_output_dims))
    if isinstance(multioutput, str):
        if multioutput == "raw_values":
            result = per_output
        elif multioutput == "uniform_average":
            result = per_output.mean(axis=output_axes)
        elif multioutput == "by_horizon":
            result = per_output.mean(axis=1)
        elif n_output_dims == 2:  # by_maturity on (n, horizon, M)
            result = per_output.mean(axis=0)
        else:  # by_maturity on (n, M): the outputs are the maturities
            result = per_output
    else:
        try:
            weights = np.broadcast_to(multioutput, output_shape)
        except ValueError:
            raise ValueError(
                f"multioutput weights of shape {np.shape(multioutput)} do not broadcast to "
                f"the output shape {output_shape} of y_true."
            ) from None
        if (weights < 0).any() or weights.sum() <= 0:
            raise ValueError("multioutput weights must be non-negative with a positive sum.")
        extra = per_output.ndim - n_output_dims
        weights = weights.reshape(output_shape + (1,) * extra)
        result = (weights * per_output).sum(axis=output_axes) / weights.sum()
    result = np.asarray(result, dtype=float)
    return float(result) if result.ndim == 0 else result


def check_int(value, name, *, minimum):
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {int(value)}.")
    return int(value)
