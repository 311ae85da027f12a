"""Accuracy of an estimated latent factor against the true (simulated) factor.

A latent factor is identified only up to location, scale and sign, so each
estimate is first mapped onto the true factor by the least-absolute-deviation
line fitted on a calibration span (Snellman, eqs. 36-37) and judged on a
separate evaluation span (eqs. 38-40). The LAD line is solved exactly as a
linear programme with :func:`scipy.optimize.linprog` (HiGHS); statsmodels'
``QuantReg`` uses iteratively reweighted least squares, which only
approximates the minimiser.
"""

import warnings
from numbers import Integral
from typing import NamedTuple

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from ._validation import as_float_array

__all__ = [
    "FactorScaling",
    "best_factor_estimate",
    "factor_fit",
    "factor_gain",
    "factor_is_flat",
    "factor_r2",
    "factor_scaling",
    "factor_scores",
]


class FactorScaling(NamedTuple):
    """Affine map ``x_hat = intercept + slope * x_estimate`` (Snellman, eq. 37).

    Attributes
    ----------
    intercept : float
        ``gamma_0`` of eq. 36.
    slope : float
        ``gamma_1`` of eq. 36; negative when the estimate is oriented
        opposite to the true factor.
    """

    intercept: float
    slope: float

    def transform(self, x_estimate):
        """Scale a raw factor estimate.

        Parameters
        ----------
        x_estimate : array-like of shape (n_periods,)
            Raw factor estimate.

        Returns
        -------
        x_hat : ndarray of shape (n_periods,)
            ``intercept + slope * x_estimate``.
        """
        x_estimate = as_float_array(x_estimate, "x_estimate", ndim=(1,))
        return self.intercept + self.slope * x_estimate


def _span_mask(span, n_periods, name):
    """Boolean mask of shape (n_periods,) for an int, slice, mask or index array."""
    mask = np.zeros(n_periods, dtype=bool)
    if isinstance(span, bool):
        raise TypeError(f"{name} must be an int, a slice or an array, got {span!r}.")
    if isinstance(span, Integral):
        if not 1 <= span <= n_periods:
            raise ValueError(
                f"{name}={span} must count the first periods, between 1 and {n_periods}."
            )
        mask[:span] = True
    elif isinstance(span, slice):
        mask[span] = True
    else:
        index = np.asarray(span)
        if index.dtype == bool:
            if index.shape != (n_periods,):
                raise ValueError(
                    f"{name} as a boolean mask must have shape ({n_periods},), "
                    f"got {index.shape}."
                )
            mask = index.copy()
        elif index.dtype.kind in "iu" and index.ndim == 1:
            if index.size and (index.min() < -n_periods or index.max() >= n_periods):
                raise ValueError(f"{name} holds indices outside [0, {n_periods}).")
            mask[index] = True
        else:
            raise TypeError(
                f"{name} must be an int, a slice, a boolean mask or an integer index "
                f"array, got {type(span).__name__} of dtype {index.dtype}."
            )
    return mask


def _check_factor(x, name, n_periods=None):
    x = as_float_array(x, name, ndim=(1,), finite=False)
    if n_periods is not None and x.shape[0] != n_periods:
        raise ValueError(
            f"{name} must have shape ({n_periods},) like x_true, got {x.shape}."
        )
    return x


def _check_finite_on(x, mask, name, span_name):
    bad = mask & ~np.isfinite(x)
    if bad.any():
        raise ValueError(
            f"{name} is not finite at index {int(np.flatnonzero(bad)[0])}, inside the "
            f"{span_name} span; choose spans that avoid missing factor values."
        )


def _spans(x_true, calibration, evaluation):
    n = x_true.shape[0]
    cal = _span_mask(calibration, n, "calibration")
    if cal.sum() < 2:
        raise ValueError(
            f"calibration must select at least 2 periods to fit the scaling, got {cal.sum()}."
        )
    if evaluation is None:
        ev = ~cal
        if not ev.any():
            raise ValueError(
                "calibration covers every period, so no evaluation span is left; pass "
                "evaluation explicitly."
            )
    else:
        ev = _span_mask(evaluation, n, "evaluation")
        if ev.sum() < 2:
            raise ValueError(f"evaluation must select at least 2 periods, got {ev.sum()}.")
    _check_finite_on(x_true, cal, "x_true", "calibration")
    _check_finite_on(x_true, ev, "x_true", "evaluation")
    return cal, ev


def _lad_line(target, regressor, name):
    """Exact minimiser of sum |g0 + g1 * regressor - target| (eq. 36)."""
    if np.ptp(regressor) == 0:
        raise ValueError(
            f"{name} is constant on the calibration span, so its scaling is not identified."
        )
    m = target.size
    # variables: g0, g1, positive parts u (m), negative parts v (m) of the residual
    identity = sparse.identity(m, format="csr")
    design = sparse.csr_matrix(np.column_stack([np.ones(m), regressor]))
    a_eq = sparse.hstack([design, identity, -identity], format="csr")
    cost = np.concatenate([[0.0, 0.0], np.ones(2 * m)])
    bounds = [(None, None)] * 2 + [(0, None)] * (2 * m)
    result = linprog(cost, A_eq=a_eq, b_eq=target, bounds=bounds, method="highs")
    if not result.success:
        raise RuntimeError(f"The LAD scaling of {name} failed: {result.message}")
    return FactorScaling(float(result.x[0]), float(result.x[1]))


def factor_scaling(x_true, x_estimate, *, calibration=None):
    """MAE-optimal affine scaling of a factor estimate (Snellman, eqs. 36-37).

    Solves

    .. math::

        \\min_{\\gamma_0, \\gamma_1} \\sum_{t \\in C}
            |\\gamma_0 + \\gamma_1 \\tilde x_t - x_t|

    over the calibration periods ``C`` exactly, as a linear programme. When
    the minimiser is not unique (a flat stretch of the LAD objective) one
    vertex of the optimal set is returned.

    Parameters
    ----------
    x_true : array-like of shape (n_periods,)
        True factor.
    x_estimate : array-like of shape (n_periods,)
        Raw factor estimate (any location, scale and sign).
    calibration : int, slice, array-like of bool of shape (n_periods,) or \
            array-like of int, default=None
        Periods on which the scaling is fitted; an int ``c`` means the first
        ``c`` periods. None uses all periods.

    Returns
    -------
    scaling : FactorScaling
        Named tuple ``(intercept, slope)``; ``scaling.transform(x_estimate)``
        applies eq. 37.

    References
    ----------
    .. [1] Snellman, "Nonlinear Dynamic Factor Analysis With a Transformer
       Network", section 3.2, eqs. 36-37.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.metrics import factor_scaling
    >>> x = np.array([0.0, 1.0, -1.0, 2.0, 0.5])
    >>> scaling = factor_scaling(x, 3.0 - 2.0 * x)
    >>> round(scaling.intercept, 10), round(scaling.slope, 10)
    (1.5, -0.5)
    """
    x_true = _check_factor(x_true, "x_true")
    x_estimate = _check_factor(x_estimate, "x_estimate", x_true.shape[0])
    cal = _span_mask(
        slice(None) if calibration is None else calibration, x_true.shape[0], "calibration"
    )
    if cal.sum() < 2:
        raise ValueError(
            f"calibration must select at least 2 periods to fit the scaling, got {cal.sum()}."
        )
    _check_finite_on(x_true, cal, "x_true", "calibration")
    _check_finite_on(x_estimate, cal, "x_estimate", "calibration")
    return _lad_line(x_true[cal], x_estimate[cal], "x_estimate")


def _evaluate(x_true, x_estimate, name, cal, ev):
    """Scale ``x_estimate`` on ``cal`` and return (mse, scaling, x_hat) on ``ev``."""
    x_estimate = _check_factor(x_estimate, name, x_true.shape[0])
    _check_finite_on(x_estimate, cal, name, "calibration")
    _check_finite_on(x_estimate, ev, name, "evaluation")
    scaling = _lad_line(x_true[cal], x_estimate[cal], name)
    x_hat = scaling.intercept + scaling.slope * x_estimate[ev]
    return float(np.mean((x_hat - x_true[ev]) ** 2)), scaling, x_hat


def _true_variance(x_true, ev):
    variance = float(np.var(x_true[ev]))
    if variance == 0:
        raise ValueError("x_true is constant on the evaluation span; R2 is undefined.")
    return variance


def _relative_improvement(numerator, denominator, what):
    if denominator == 0:
        warnings.warn(
            f"{what} is undefined because its denominator is zero; returning NaN.",
            RuntimeWarning,
            stacklevel=3,
        )
        return float("nan")
    return 100.0 * numerator / denominator


def factor_r2(x_true, x_estimate, *, calibration, evaluation=None):
    """Share of the true factor's variance explained by a scaled estimate (eq. 38).

    ``R2 = 1 - MSE / Var(x)`` on the evaluation span, where the estimate is
    scaled by :func:`factor_scaling` fitted on the calibration span and
    ``Var(x)`` is the variance (divisor ``N_test``, like the MSE) of the true
    factor over the evaluation span. 1 is a perfect estimate up to the
    allowed affine map.

    Parameters
    ----------
    x_true : array-like of shape (n_periods,)
        True factor.
    x_estimate : array-like of shape (n_periods,)
        Raw factor estimate.
    calibration : int, slice, array-like of bool of shape (n_periods,) or \
            array-like of int
        Periods on which the scaling is fitted (an int ``c``: the first ``c``
        periods), e.g. the training and validation span.
    evaluation : int, slice, array-like of bool or int, default=None
        Periods on which the estimate is scored; None means every period not
        in ``calibration``.

    Returns
    -------
    r2 : float
        At most 1.

    References
    ----------
    .. [1] Snellman, "Nonlinear Dynamic Factor Analysis With a Transformer
       Network", section 3.2, eq. 38.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.metrics import factor_r2
    >>> x = np.sin(np.arange(20.0))
    >>> round(factor_r2(x, 2.0 * x + 1.0, calibration=10), 10)
    1.0
    """
    x_true = _check_factor(x_true, "x_true")
    cal, ev = _spans(x_true, calibration, evaluation)
    mse, _, _ = _evaluate(x_true, x_estimate, "x_estimate", cal, ev)
    return 1.0 - mse / _true_variance(x_true, ev)


def factor_fit(x_true, x_estimate, x_reference, *, calibration, evaluation=None):
    """Relative MSE improvement over a reference factor estimate, in percent (eq. 39).

    ``Fit = 100 * (MSE_reference - MSE_estimate) / MSE_reference`` on the
    evaluation span, each estimate scaled by its own :func:`factor_scaling`
    fitted on the calibration span. 100 is a perfect estimate, 0 a tie,
    negative values mean the reference (Snellman's Kalman filter) is more
    accurate. NaN with a ``RuntimeWarning`` when the reference is perfect.

    Parameters
    ----------
    x_true : array-like of shape (n_periods,)
        True factor.
    x_estimate : array-like of shape (n_periods,)
        Raw factor estimate being judged.
    x_reference : array-like of shape (n_periods,)
        Raw factor estimate of the baseline.
    calibration : int, slice, array-like of bool of shape (n_periods,) or \
            array-like of int
        Periods on which the scalings are fitted (an int ``c``: the first
        ``c`` periods).
    evaluation : int, slice, array-like of bool or int, default=None
        Periods on which the estimates are scored; None means every period
        not in ``calibration``.

    Returns
    -------
    fit : float
        In (-inf, 100].

    References
    ----------
    .. [1] Snellman, "Nonlinear Dynamic Factor Analysis With a Transformer
       Network", section 3.2, eq. 39.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.metrics import factor_fit
    >>> x = np.sin(np.arange(20.0))
    >>> noisy = x + 0.3 * np.cos(7.0 * np.arange(20.0))
    >>> round(factor_fit(x, -x, noisy, calibration=10), 6)
    100.0
    """
    x_true = _check_factor(x_true, "x_true")
    cal, ev = _spans(x_true, calibration, evaluation)
    mse, _, _ = _evaluate(x_true, x_estimate, "x_estimate", cal, ev)
    mse_ref, _, _ = _evaluate(x_true, x_reference, "x_reference", cal, ev)
    return _relative_improvement(mse_ref - mse, mse_ref, "Fit")


def factor_gain(x_true, x_estimate, x_reference, x_oracle, *, calibration, evaluation=None):
    """Share of the reference-to-oracle MSE gap closed by an estimate, in percent (eq. 40).

    ``Gain = 100 * (MSE_reference - MSE_estimate) / (MSE_reference - MSE_oracle)``
    on the evaluation span, each estimate scaled by its own
    :func:`factor_scaling` fitted on the calibration span. 100 means the
    estimate is as accurate as the oracle filter, 0 a tie with the reference.
    Values above 100 are possible when the estimate beats the oracle on a
    finite sample. NaN with a ``RuntimeWarning`` when the reference and the
    oracle have the same MSE (Snellman leaves Gain unreported when this
    denominator is very small).

    Parameters
    ----------
    x_true : array-like of shape (n_periods,)
        True factor.
    x_estimate : array-like of shape (n_periods,)
        Raw factor estimate being judged.
    x_reference : array-like of shape (n_periods,)
        Raw factor estimate of the baseline (the estimated Kalman filter).
    x_oracle : array-like of shape (n_periods,)
        Raw factor estimate of the oracle (e.g. a particle filter run with
        the true parameters).
    calibration : int, slice, array-like of bool of shape (n_periods,) or \
            array-like of int
        Periods on which the scalings are fitted (an int ``c``: the first
        ``c`` periods).
    evaluation : int, slice, array-like of bool or int, default=None
        Periods on which the estimates are scored; None means every period
        not in ``calibration``.

    Returns
    -------
    gain : float

    References
    ----------
    .. [1] Snellman, "Nonlinear Dynamic Factor Analysis With a Transformer
       Network", section 3.2, eq. 40.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.metrics import factor_gain
    >>> t = np.arange(30.0)
    >>> x = np.sin(t)
    >>> oracle = x + 0.1 * np.cos(5.0 * t)
    >>> kalman = x + 0.5 * np.cos(3.0 * t)
    >>> round(factor_gain(x, 2.0 * oracle, kalman, oracle, calibration=15), 6)
    100.0
    """
    x_true = _check_factor(x_true, "x_true")
    cal, ev = _spans(x_true, calibration, evaluation)
    mse, _, _ = _evaluate(x_true, x_estimate, "x_estimate", cal, ev)
    mse_ref, _, _ = _evaluate(x_true, x_reference, "x_reference", cal, ev)
    mse_oracle, _, _ = _evaluate(x_true, x_oracle, "x_oracle", cal, ev)
    return _relative_improvement(mse_ref - mse, mse_ref - mse_oracle, "Gain")


def _correlation(a, b):
    sa, sb = np.std(a), np.std(b)
    if sa == 0 or sb == 0:
        warnings.warn(
            "A constant series on the evaluation span makes the correlation undefined; "
            "returning NaN.",
            RuntimeWarning,
            stacklevel=3,
        )
        return float("nan")
    return float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))


def factor_scores(
    x_true, x_estimate, *, reference=None, oracle=None, calibration, evaluation=None
):
    """All factor metrics of Snellman's section 3.2 in one call.

    Every estimate is scaled by its own :func:`factor_scaling` on the
    calibration span and scored on the evaluation span.

    Parameters
    ----------
    x_true : array-like of shape (n_periods,)
        True factor.
    x_estimate : array-like of shape (n_periods,)
        Raw factor estimate being judged.
    reference : array-like of shape (n_periods,), default=None
        Raw estimate of the baseline (Kalman filter); adds ``"fit"``.
    oracle : array-like of shape (n_periods,), default=None
        Raw estimate of the oracle filter; with ``reference`` adds ``"gain"``.
    calibration : int, slice, array-like of bool of shape (n_periods,) or \
            array-like of int
        Periods on which the scalings are fitted (an int ``c``: the first
        ``c`` periods).
    evaluation : int, slice, array-like of bool or int, default=None
        Periods on which the estimates are scored; None means every period
        not in ``calibration``.

    Returns
    -------
    scores : dict of str to float
        ``"intercept"``, ``"slope"`` (eq. 36), ``"mse"``, ``"r2"`` (eq. 38)
        and ``"corr"`` (Pearson correlation of the true factor and the scaled
        estimate) for ``x_estimate``; with ``reference`` also
        ``"mse_reference"``, ``"r2_reference"`` and ``"fit"`` (eq. 39, in
        percent); with ``oracle`` also ``"mse_oracle"`` and ``"r2_oracle"``;
        with both, ``"gain"`` (eq. 40, in percent).

    References
    ----------
    .. [1] Snellman, "Nonlinear Dynamic Factor Analysis With a Transformer
       Network", section 3.2, eqs. 36-40.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.metrics import factor_scores
    >>> t = np.arange(30.0)
    >>> x = np.sin(t)
    >>> scores = factor_scores(x, 1.0 - x, reference=x + 0.5 * np.cos(3.0 * t),
    ...                        calibration=15)
    >>> round(scores["r2"], 6), round(scores["fit"], 6)
    (1.0, 100.0)
    """
    x_true = _check_factor(x_true, "x_true")
    cal, ev = _spans(x_true, calibration, evaluation)
    variance = _true_variance(x_true, ev)
    mse, scaling, x_hat = _evaluate(x_true, x_estimate, "x_estimate", cal, ev)
    scores = {
        "intercept": scaling.intercept,
        "slope": scaling.slope,
        "mse": mse,
        "r2": 1.0 - mse / variance,
        "corr": _correlation(x_true[ev], x_hat),
    }
    if reference is not None:
        mse_ref, _, _ = _evaluate(x_true, reference, "reference", cal, ev)
        scores["mse_reference"] = mse_ref
        scores["r2_reference"] = 1.0 - mse_ref / variance
        scores["fit"] = _relative_improvement(mse_ref - mse, mse_ref, "Fit")
    if oracle is not None:
        mse_oracle, _, _ = _evaluate(x_true, oracle, "oracle", cal, ev)
        scores["mse_oracle"] = mse_oracle
        scores["r2_oracle"] = 1.0 - mse_oracle / variance
        if reference is not None:
            scores["gain"] = _relative_improvement(
                scores["mse_reference"] - mse, scores["mse_reference"] - mse_oracle, "Gain"
            )
    return scores


def factor_is_flat(x_true, x_estimate, *, calibration, evaluation=None, threshold=0.1):
    """Whether an optimally scaled factor estimate flat-lines (Snellman, footnote 7).

    Snellman discards the seeds on which the estimated Kalman filter "was clearly
    mis-estimated, with a flatlining optimally scaled factor series". Here an estimate
    flat-lines when, after the LAD scaling of eq. 36 fitted on the calibration span, its
    standard deviation on the evaluation span is below ``threshold`` times that of the
    true factor: the scaling had to shrink it towards a constant, because it tracks the
    factor too poorly. The threshold is skyield's choice; the paper gives none.

    Parameters
    ----------
    x_true : array-like of shape (n_periods,)
        True factor.
    x_estimate : array-like of shape (n_periods,)
        Raw factor estimate.
    calibration : int, slice, array-like of bool of shape (n_periods,) or \
            array-like of int
        Periods on which the scaling is fitted (an int ``c``: the first ``c`` periods).
    evaluation : int, slice, array-like of bool or int, default=None
        Periods on which the scaled estimate is judged; None means every period not in
        ``calibration``.
    threshold : float, default=0.1
        Largest ratio of standard deviations (scaled estimate over true factor) that
        counts as flat.

    Returns
    -------
    flat : bool

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.metrics import factor_is_flat
    >>> t = np.arange(200.0)
    >>> x = np.sin(t / 5.0)
    >>> noise = np.cos(3.7 * t)
    >>> factor_is_flat(x, x + 0.2 * noise, calibration=100)
    False
    >>> factor_is_flat(x, noise, calibration=100)
    True
    """
    x_true = _check_factor(x_true, "x_true")
    cal, ev = _spans(x_true, calibration, evaluation)
    _, _, x_hat = _evaluate(x_true, x_estimate, "x_estimate", cal, ev)
    return bool(np.std(x_hat) < threshold * np.sqrt(_true_variance(x_true, ev)))


def best_factor_estimate(x_true, estimates, *, calibration, evaluation=None):
    """The most accurate of several raw estimates of one factor (for Snellman's "Fit max").

    Snellman's "Transformer max" stops each training run at the epoch with the highest
    test accuracy. Given the run's estimate at every epoch checked, this picks the one
    with the lowest evaluation-span MSE after a least-squares scaling fitted on the
    calibration span: a closed form for all candidates at once, where the LAD scaling of
    eq. 36 would take one linear programme per candidate. Score the chosen estimate with
    :func:`factor_fit` (LAD scaling) as any other.

    Parameters
    ----------
    x_true : array-like of shape (n_periods,)
        True factor.
    estimates : array-like of shape (n_candidates, n_periods)
        Raw estimates, e.g. one per training epoch.
    calibration : int, slice, array-like of bool of shape (n_periods,) or \
            array-like of int
        Periods on which the scalings are fitted (an int ``c``: the first ``c`` periods).
    evaluation : int, slice, array-like of bool or int, default=None
        Periods on which the candidates are compared; None means every period not in
        ``calibration``.

    Returns
    -------
    index : int
        Row of the best candidate (the first of ties). A candidate that is constant on
        the calibration span cannot be scaled and is never chosen.
    mse : ndarray of shape (n_candidates,)
        Evaluation MSE of every candidate after its least-squares scaling (inf for a
        candidate constant on the calibration span).

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.metrics import best_factor_estimate
    >>> t = np.arange(100.0)
    >>> x = np.sin(t / 4.0)
    >>> candidates = np.stack([x + np.cos(3.0 * t), 2.0 - 3.0 * x, x + 0.5 * np.cos(t)])
    >>> index, mse = best_factor_estimate(x, candidates, calibration=50)
    >>> index, bool(mse[index] < 1e-20)
    (1, True)
    """
    x_true = _check_factor(x_true, "x_true")
    cal, ev = _spans(x_true, calibration, evaluation)
    estimates = as_float_array(estimates, "estimates", ndim=(2,), finite=False)
    if estimates.shape[1] != x_true.shape[0]:
        raise ValueError(
            f"estimates must have shape (n_candidates, {x_true.shape[0]}) like x_true, got "
            f"{estimates.shape}."
        )
    for name, mask in (("calibration", cal), ("evaluation", ev)):
        bad = ~np.isfinite(estimates[:, mask])
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise ValueError(
                f"estimates row {row} is not finite at index "
                f"{int(np.flatnonzero(mask)[col])}, inside the {name} span."
            )
    target, regressors = x_true[cal], estimates[:, cal]
    centred = regressors - regressors.mean(axis=1, keepdims=True)
    spread = np.sum(centred**2, axis=1)
    flat = spread == 0
    slope = np.where(flat, 0.0, centred @ (target - target.mean()) / np.where(flat, 1.0, spread))
    intercept = target.mean() - slope * regressors.mean(axis=1)
    scaled = intercept[:, None] + slope[:, None] * estimates[:, ev]
    mse = np.mean((scaled - x_true[ev]) ** 2, axis=1)
    mse[flat] = np.inf
    if np.all(flat):
        raise ValueError("every estimate is constant on the calibration span.")
    return int(np.argmin(mse)), mse
