"""p-values adjusted for multiple comparisons (Holm, Bonferroni).

A benchmark tests every model at every horizon on every dataset against the random walk;
among 50 tests at the 5% level, two or three reject by chance alone. The adjusted
p-values control the family-wise error rate (the chance of at least one false
rejection) over all of them. Written here (a few lines) rather than taken from
statsmodels' ``multipletests`` so that missing p-values, which a leaderboard has for its
reference model, pass through as missing.
"""

import numpy as np

from ._validation import as_float_array

__all__ = ["adjust_pvalues"]

_METHODS = ("holm", "bonferroni")


def adjust_pvalues(pvalues, *, method="holm"):
    """p-values adjusted for the number of tests, controlling the family-wise error rate.

    Parameters
    ----------
    pvalues : array-like of float
        The p-values of the tests, any shape; NaN marks a test that was not run and is
        neither counted nor adjusted.
    method : {"holm", "bonferroni"}, default="holm"
        ``"bonferroni"`` multiplies each p-value by the number of tests ``m``;
        ``"holm"`` (Holm, 1979) multiplies the ``k``-th smallest by ``m - k + 1`` and
        keeps the result non-decreasing in that order, which rejects at least as often
        as Bonferroni with the same guarantee. Adjusted values are capped at 1.

    Returns
    -------
    adjusted : ndarray of the shape of ``pvalues``
        A test rejects at level ``alpha`` over the whole family when its adjusted
        p-value is below ``alpha``.

    References
    ----------
    Holm, S. (1979). A simple sequentially rejective multiple test procedure.
    *Scandinavian Journal of Statistics*, 6(2), 65-70.

    Examples
    --------
    >>> from skyield.metrics import adjust_pvalues
    >>> adjust_pvalues([0.01, 0.04, 0.03, float("nan")]).round(3).tolist()
    [0.03, 0.06, 0.06, nan]
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {', '.join(_METHODS)}, got {method!r}")
    p = as_float_array(pvalues, "pvalues", ndim=(1, 2, 3), finite=False)
    if np.isinf(p).any():
        raise ValueError("pvalues must be finite (NaN for a test not run)")
    run = ~np.isnan(p)
    if np.any((p[run] < 0) | (p[run] > 1)):
        raise ValueError("pvalues must lie in [0, 1] (NaN for a test not run)")
    adjusted = np.full(p.shape, np.nan)
    values = p[run]
    m = values.size
    if method == "bonferroni":
        adjusted[run] = np.minimum(values * m, 1.0)
        return adjusted
    order = np.argsort(values, kind="stable")
    stepped = np.maximum.accumulate(values[order] * (m - np.arange(m)))
    result = np.empty(m)
    result[order] = np.minimum(stepped, 1.0)
    adjusted[run] = result
    return adjusted
