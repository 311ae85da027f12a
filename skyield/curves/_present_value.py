"""Present value of a cash-flow profile under one curve or a cube of scenario curves."""

import numpy as np
import pandas as pd

from skyield.utils import check_numeric

from ._conventions import check_compounding, check_units, to_continuous
from ._inputs import check_curve, check_times
from ._interpolation import check_interpolation, check_within, log_discount

__all__ = ["present_value"]


def present_value(times, cash_flows, maturities, zero_rates, *, horizons=None,
                  interpolation="linear_zero", compounding="continuous", units="decimal"):
    """Present value of cash flows under one zero curve or a stack of scenario curves.

    Parameters
    ----------
    times : array-like of shape (n_flows,)
        Payment times in years, non-negative: from each curve's own valuation date, or
        from today when ``horizons`` is given.
    cash_flows : array-like of shape (n_flows,) or (..., n_flows)
        Amounts paid at ``times``; leading axes broadcast against those of
        ``zero_rates`` (e.g. one profile per path).
    maturities : array-like of shape (n_maturities,) or None
        Maturities of ``zero_rates`` in years; None reads them from pandas labels.
    zero_rates : array-like of shape (..., n_maturities), Series or DataFrame
        One curve ``(n_maturities,)``, a panel ``(n_dates, n_maturities)`` or a scenario
        cube ``(n_paths, n_horizons, n_maturities)``.
    horizons : array-like of shape (n_horizons,), default=None
        Projection horizons in years from today, one per position of the second-to-last
        axis of ``zero_rates`` (the curve at horizon ``h`` is the curve seen at ``h``).
        When given, ``times`` run from today: at horizon ``h`` the flows with
        ``t >= h`` are valued over ``t - h`` years (a flow due at ``h`` counts at face
        value) and earlier flows, already paid, are left out.
    interpolation : {"linear_zero", "log_linear_discount"}, default="linear_zero"
        Rule for discount factors between the curve's maturities (see
        :func:`~skyield.curves.interpolate_zero`).
    compounding : {"continuous", "simple", "annual", "semiannual", "quarterly", \
            "monthly"} or int, default="continuous"
        Compounding of ``zero_rates``.
    units : {"decimal", "percent"}, default="decimal"
        Units of ``zero_rates``.

    Returns
    -------
    present_values : float or ndarray of shape zero_rates.shape[:-1]
        ``sum_k cash_flows[..., k] P(times[k])``: a float for one curve, ``(n_dates,)``
        for a panel (a Series indexed by its dates for a DataFrame), ``(n_paths,
        n_horizons)`` for a scenario cube.

    Raises
    ------
    ValueError
        If a payment falls past the curve's last maturity (extend the curve first, e.g.
        with :func:`~skyield.curves.smith_wilson`), or for invalid inputs.

    Examples
    --------
    A payment of 100 in 2 years under a flat 3% annually compounded curve:

    >>> from skyield.curves import present_value
    >>> round(float(present_value([2.0], [100.0], [1, 2, 5], [0.03, 0.03, 0.03],
    ...                           compounding="annual")), 6)
    94.259591

    A scenario cube of 2 paths and 3 horizons:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> cube = 0.02 + 0.005 * rng.standard_normal((2, 3, 4))
    >>> present_value([1.0, 2.0, 3.0], [10.0, 10.0, 110.0], [1, 2, 5, 10], cube).shape
    (2, 3)
    """
    scale = check_units(units)
    kind = check_compounding(compounding)
    check_interpolation(interpolation)
    curve = check_curve(maturities, zero_rates, "zero_rates")
    t = check_times(times, "times", allow_zero=True)
    check_numeric(cash_flows, "cash_flows")
    flows = np.asarray(cash_flows, dtype=float)
    if flows.ndim == 0 or flows.shape[-1] != t.size:
        raise ValueError(
            f"cash_flows must have {t.size} entries on its last axis, one per time; got "
            f"shape {flows.shape}"
        )
    if not np.all(np.isfinite(flows)):
        raise ValueError("cash_flows contain NaN or infinite values")
    zero = to_continuous(curve.values / scale, kind, curve.maturities, "zero_rates")
    if horizons is None:
        check_within(curve.maturities, t, "times")
        discount = np.exp(-log_discount(curve.maturities, zero, t, interpolation))
        _broadcast(flows.shape[:-1], zero.shape[:-1])
        result = (discount * flows).sum(axis=-1)
    else:
        h = check_times(horizons, "horizons", allow_zero=True)
        if zero.ndim < 2 or zero.shape[-2] != h.size:
            raise ValueError(
                f"horizons has {h.size} entries but zero_rates has shape {zero.shape}; with "
                f"horizons, the second-to-last axis of zero_rates runs over them"
            )
        shape = _broadcast(flows.shape[:-1], zero.shape[:-1])
        flows = np.broadcast_to(flows, shape + (t.size,))
        zero = np.broadcast_to(zero, shape + zero.shape[-1:])
        result = np.empty(shape)
        for j, horizon in enumerate(h):
            alive = t >= horizon
            remaining = np.where(alive, t - horizon, 0.0)
            check_within(curve.maturities, remaining, f"payment times after horizon {horizon:g}")
            discount = np.exp(-log_discount(curve.maturities, zero[..., j, :], remaining,
                                            interpolation))
            result[..., j] = (discount * alive * flows[..., j, :]).sum(axis=-1)
    if isinstance(curve.like, pd.DataFrame) and result.shape == (len(curve.like),):
        return pd.Series(result, index=curve.like.index, name="present_value")
    return float(result) if result.ndim == 0 else result


def _broadcast(flow_shape, curve_shape):
    try:
        return np.broadcast_shapes(flow_shape, curve_shape)
    except ValueError:
        raise ValueError(
            f"cash_flows of leading shape {flow_shape} do not broadcast against the curves' "
            f"leading shape {curve_shape}"
        ) from None
