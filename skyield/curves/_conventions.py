"""Compounding and unit conventions shared by every curve function.

Every function of :mod:`skyield.curves` works internally with continuously compounded
zero rates in decimals and converts at the boundary: rates come in and go out in the
caller's ``compounding`` and ``units``. A rate ``r`` for a maturity of ``t`` years gives
the discount factor

==================  ==========================  ==================================
``compounding``     discount factor ``P(t)``    continuously compounded rate
==================  ==========================  ==================================
``"continuous"``    ``exp(-r t)``               ``r``
``"simple"``        ``1 / (1 + r t)``           ``log(1 + r t) / t``
``m`` per year      ``(1 + r / m) ** (-m t)``   ``m log(1 + r / m)``
==================  ==========================  ==================================

with ``m = 1`` for ``"annual"``, 2 for ``"semiannual"``, 4 for ``"quarterly"``, 12 for
``"monthly"``, or any positive integer ``m``.
"""

import numbers

import numpy as np

from skyield.utils import check_numeric

__all__ = [
    "COMPOUNDING_NAMES",
    "UNITS",
    "check_compounding",
    "check_units",
    "convert_compounding",
    "from_continuous",
    "to_continuous",
]

COMPOUNDING_NAMES = {
    "continuous": "continuous",
    "simple": "simple",
    "annual": 1,
    "semiannual": 2,
    "semi-annual": 2,
    "quarterly": 4,
    "monthly": 12,
}
UNITS = {"decimal": 1.0, "percent": 100.0}


def check_compounding(compounding, name="compounding"):
    """Return ``"continuous"``, ``"simple"`` or the number of periods per year."""
    if isinstance(compounding, str):
        key = compounding.strip().lower()
        if key not in COMPOUNDING_NAMES:
            raise ValueError(
                f"{name} must be one of {sorted(COMPOUNDING_NAMES)} or a positive integer "
                f"number of periods per year, got {compounding!r}"
            )
        return COMPOUNDING_NAMES[key]
    if isinstance(compounding, numbers.Integral) and not isinstance(compounding, bool) \
            and compounding >= 1:
        return int(compounding)
    raise ValueError(
        f"{name} must be one of {sorted(COMPOUNDING_NAMES)} or a positive integer number "
        f"of periods per year, got {compounding!r}"
    )


def check_units(units):
    """Return the scale of ``units``: 1 for decimals, 100 for percent."""
    if units not in UNITS:
        raise ValueError(f"units must be one of {sorted(UNITS)}, got {units!r}")
    return UNITS[units]


def _needs_maturities(kind, maturities, name):
    if kind == "simple" and maturities is None:
        raise ValueError(f"simple compounding depends on the maturity: pass maturities for {name}")


def to_continuous(rates, kind, maturities=None, name="rates"):
    """Continuously compounded decimal rates from ``kind``-compounded decimal rates.

    ``maturities`` (broadcastable to ``rates``) is needed for simple compounding only.
    """
    rates = np.asarray(rates, dtype=float)
    if kind == "continuous":
        return rates.copy()
    if kind == "simple":
        _needs_maturities(kind, maturities, name)
        growth = 1.0 + rates * maturities
        _check_positive_growth(growth, rates, name, "1 + r t")
        return np.log(growth) / maturities
    growth = 1.0 + rates / kind
    _check_positive_growth(growth, rates, name, f"1 + r / {kind}")
    return kind * np.log(growth)


def from_continuous(rates, kind, maturities=None):
    """``kind``-compounded decimal rates from continuously compounded decimal rates."""
    rates = np.asarray(rates, dtype=float)
    if kind == "continuous":
        return rates.copy()
    if kind == "simple":
        _needs_maturities(kind, maturities, "the output")
        return np.expm1(rates * maturities) / maturities
    return kind * np.expm1(rates / kind)


def _check_positive_growth(growth, rates, name, formula):
    bad = ~(growth > 0)
    if bad.any():
        position = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} at position {position} is {rates[position]!r}, for which {formula} <= 0: "
            f"no discount factor exists (are the rates in percent? pass units='percent')"
        )


def convert_compounding(rates, *, from_compounding, to_compounding, maturities=None,
                        units="decimal"):
    """Convert rates between compounding conventions.

    Parameters
    ----------
    rates : array-like of any shape
        Rates quoted with ``from_compounding``.
    from_compounding, to_compounding : {"continuous", "simple", "annual", "semiannual", \
            "quarterly", "monthly"} or int
        Compounding of the input and of the output; an integer is a number of compounding
        periods per year.
    maturities : array-like broadcastable to ``rates``, default=None
        Maturities in years. Needed only when either convention is ``"simple"``, whose
        equivalence to the others depends on the maturity.
    units : {"decimal", "percent"}, default="decimal"
        Units of ``rates`` and of the result.

    Returns
    -------
    converted : ndarray of the shape of ``rates``
        The rates that give the same discount factors under ``to_compounding``.

    See Also
    --------
    zero_to_discount : discount factors from zero rates.

    Examples
    --------
    >>> from skyield.curves import convert_compounding
    >>> round(float(convert_compounding(0.04, from_compounding="semiannual",
    ...                                 to_compounding="annual")), 6)
    0.0404
    >>> round(float(convert_compounding(3.0, from_compounding="annual",
    ...                                 to_compounding="continuous", units="percent")), 6)
    2.95588
    """
    scale = check_units(units)
    source = check_compounding(from_compounding, "from_compounding")
    target = check_compounding(to_compounding, "to_compounding")
    check_numeric(rates, "rates")
    values = np.asarray(rates, dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError("rates contain NaN or infinite values")
    tau = None
    if maturities is not None:
        check_numeric(maturities, "maturities")
        tau = np.asarray(maturities, dtype=float)
        if not np.all(np.isfinite(tau)) or np.any(tau <= 0):
            raise ValueError("maturities must be finite and positive years")
    continuous = to_continuous(values / scale, source, tau)
    return from_continuous(continuous, target, tau) * scale
