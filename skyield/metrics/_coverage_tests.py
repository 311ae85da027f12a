"""Backtests of interval coverage: likelihood-ratio tests on hit sequences, and the
sampling distribution of PICP under exact calibration.

Hand-written because the tests are a few lines of binomial and Markov-chain
likelihoods and statsmodels has no coverage backtest. Likelihoods use
``scipy.special.xlogy`` so that a zero count contributes ``0 * log 0 = 0``,
the limit of ``x log x``, as the maximum-likelihood convention requires:
with no hits at all, or no consecutive hits, the statistics stay finite.
"""

from typing import NamedTuple

import numpy as np
from scipy import stats
from scipy.special import xlogy
from sklearn.utils import check_random_state

from skyield.utils import check_correlation

from ._validation import as_float_array, check_int, check_probability

__all__ = [
    "ChristoffersenResult",
    "KupiecResult",
    "christoffersen_test",
    "kupiec_test",
    "simulate_calibrated_picp",
]


class KupiecResult(NamedTuple):
    """Result of :func:`kupiec_test`.

    Attributes
    ----------
    statistic : float
        Likelihood ratio of unconditional coverage, asymptotically chi2(1).
    pvalue : float
    """

    statistic: float
    pvalue: float


class ChristoffersenResult(NamedTuple):
    """Result of :func:`christoffersen_test`.

    Attributes
    ----------
    statistic_uc : float
        Unconditional-coverage LR (Kupiec), chi2(1).
    pvalue_uc : float
    statistic_ind : float
        Independence LR (first-order Markov alternative), chi2(1).
    pvalue_ind : float
    statistic_cc : float
        Conditional-coverage LR, ``statistic_uc + statistic_ind``, chi2(2).
    pvalue_cc : float
    """

    statistic_uc: float
    pvalue_uc: float
    statistic_ind: float
    pvalue_ind: float
    statistic_cc: float
    pvalue_cc: float


def _check_hits(hits, minimum):
    hits = as_float_array(hits, "hits", ndim=(1,), booleans=True)
    not_binary = (hits != 0) & (hits != 1)
    if not_binary.any():
        index = int(np.flatnonzero(not_binary)[0])
        raise ValueError(
            f"hits must contain only 0 and 1 (1 = observation outside its interval); "
            f"got {float(hits[index])!r} at index {index}."
        )
    if hits.size < minimum:
        raise ValueError(f"hits needs at least {minimum} observations, got {hits.size}.")
    return hits.astype(int)


def _bernoulli_loglik(n_hits, n_misses, p):
    return xlogy(n_hits, p) + xlogy(n_misses, 1.0 - p)


def _lr_uc(hits, p):
    n_hits = hits.sum()
    n = hits.size
    p_hat = n_hits / n
    return -2.0 * (
        _bernoulli_loglik(n_hits, n - n_hits, p) - _bernoulli_loglik(n_hits, n - n_hits, p_hat)
    )


def kupiec_test(hits, coverage):
    """Kupiec's proportion-of-failures test of unconditional coverage.

    With ``x`` hits among ``n`` observations, expected hit rate
    ``p = 1 - coverage`` and observed rate ``p_hat = x / n``,

    .. math::

        LR_{uc} = -2\\left[x\\log p + (n - x)\\log(1 - p)
                   - x\\log\\hat p - (n - x)\\log(1 - \\hat p)\\right]
                   \\sim \\chi^2(1),

    with ``0 log 0 = 0`` (so ``x = 0`` and ``x = n`` are handled).

    Parameters
    ----------
    hits : array-like of shape (n_samples,)
        1 where the observation fell outside its interval, else 0, in time
        order (see :func:`interval_hits`).
    coverage : float
        Nominal coverage of the intervals, strictly inside (0, 1).

    Returns
    -------
    result : KupiecResult
        Named tuple ``(statistic, pvalue)``.

    References
    ----------
    .. [1] Kupiec, P. H. (1995). Techniques for verifying the accuracy of risk
       measurement models. Journal of Derivatives, 3(2), 73-84.

    Examples
    --------
    >>> from skyield.metrics import kupiec_test
    >>> result = kupiec_test([0, 0, 0, 0, 1, 0, 0, 0, 0, 0], coverage=0.9)
    >>> round(result.statistic, 12)
    0.0
    """
    p = 1.0 - check_probability(coverage, "coverage")
    hits = _check_hits(hits, minimum=1)
    # an LR statistic is >= 0 exactly; rounding can leave about -1e-16
    statistic = float(max(_lr_uc(hits, p), 0.0))
    return KupiecResult(statistic, float(stats.chi2.sf(statistic, df=1)))


def christoffersen_test(hits, coverage):
    """Christoffersen's independence and conditional-coverage tests.

    The ``n - 1`` transitions of the hit sequence are counted as ``n_ij``
    (state ``i`` followed by state ``j``). Against the first-order Markov
    alternative with ``pi_01 = n_01 / (n_00 + n_01)`` and
    ``pi_11 = n_11 / (n_10 + n_11)``, the independence statistic compares
    with the pooled rate ``pi = (n_01 + n_11) / (n - 1)``:

    .. math::

        LR_{ind} = -2\\Big[(n_{00} + n_{10})\\log(1 - \\pi) + (n_{01} + n_{11})\\log\\pi
            - n_{00}\\log(1 - \\pi_{01}) - n_{01}\\log\\pi_{01}
            - n_{10}\\log(1 - \\pi_{11}) - n_{11}\\log\\pi_{11}\\Big]
            \\sim \\chi^2(1),

    and the conditional-coverage statistic is
    ``LR_cc = LR_uc + LR_ind ~ chi2(2)``, with ``LR_uc`` Kupiec's statistic on
    all ``n`` observations (Christoffersen, 1998, which notes the identity
    holds once the first observation's contribution is ignored). Zero counts
    contribute ``0 log 0 = 0``; a transition probability whose row has no
    observations (e.g. no hit ever occurs, so no transition starts from 1)
    enters with zero weight.

    Parameters
    ----------
    hits : array-like of shape (n_samples,)
        1 where the observation fell outside its interval, else 0, in time
        order; at least 2 observations.
    coverage : float
        Nominal coverage of the intervals, strictly inside (0, 1).

    Returns
    -------
    result : ChristoffersenResult
        Named tuple ``(statistic_uc, pvalue_uc, statistic_ind, pvalue_ind,
        statistic_cc, pvalue_cc)``.

    References
    ----------
    .. [1] Christoffersen, P. F. (1998). Evaluating interval forecasts.
       International Economic Review, 39(4), 841-862.

    Examples
    --------
    >>> from skyield.metrics import christoffersen_test
    >>> result = christoffersen_test([0, 0, 1, 1, 0, 0, 0, 0, 0, 0], coverage=0.8)
    >>> bool(result.statistic_ind > 0), bool(result.pvalue_cc < 1)
    (True, True)
    """
    p = 1.0 - check_probability(coverage, "coverage")
    hits = _check_hits(hits, minimum=2)
    previous, current = hits[:-1], hits[1:]
    n00 = int(np.sum((previous == 0) & (current == 0)))
    n01 = int(np.sum((previous == 0) & (current == 1)))
    n10 = int(np.sum((previous == 1) & (current == 0)))
    n11 = int(np.sum((previous == 1) & (current == 1)))

    # an empty row has no observations, so its (arbitrary) rate gets zero weight
    pi01 = n01 / (n00 + n01) if n00 + n01 > 0 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 > 0 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    loglik_null = _bernoulli_loglik(n01 + n11, n00 + n10, pi)
    loglik_markov = _bernoulli_loglik(n01, n00, pi01) + _bernoulli_loglik(n11, n10, pi11)
    lr_ind = float(max(-2.0 * (loglik_null - loglik_markov), 0.0))
    lr_uc = float(max(_lr_uc(hits, p), 0.0))
    lr_cc = lr_uc + lr_ind
    return ChristoffersenResult(
        statistic_uc=lr_uc,
        pvalue_uc=float(stats.chi2.sf(lr_uc, df=1)),
        statistic_ind=lr_ind,
        pvalue_ind=float(stats.chi2.sf(lr_ind, df=1)),
        statistic_cc=lr_cc,
        pvalue_cc=float(stats.chi2.sf(lr_cc, df=2)),
    )


def _correlation_factor(correlation):
    """A matrix ``A`` of shape (n_series, rank) with ``A @ A.T == correlation``, after
    checking that it is one."""
    corr = check_correlation(correlation)
    values, vectors = np.linalg.eigh(corr)
    # Only the directions with variance are kept: a sample correlation of more series
    # than dates has rank below its size, and its factor needs only that many shocks.
    # Eigenvalues within rounding of zero count as zero.
    keep = values > 1e-10 * values[-1]
    return vectors[:, keep] * np.sqrt(values[keep])


def simulate_calibrated_picp(n_dates, correlation, *, horizon=1, coverage=0.95,
                             n_draws=2000, random_state=None):
    """PICPs that exactly calibrated intervals reach on a finite test span, simulated.

    A backtest's PICP differs from the nominal coverage by chance even when every
    interval is exact, and by more than the binomial error of its row count: the
    ``horizon``-step errors of consecutive origins overlap, and the series of one date
    (maturities, curves) move together. This draws that sampling distribution. Each
    draw simulates one-step Gaussian shocks with the given correlation across series,
    independent over time, for ``n_dates + horizon - 1`` periods; the
    ``horizon``-step error of each origin is the sum of the next ``horizon`` shocks
    (the error of the optimal forecast of a random walk, an MA(``horizon`` - 1) process
    over origins); and the PICP of the exact central intervals,
    ``|error| <= z sqrt(horizon)`` with ``z`` the normal quantile of ``coverage``, is
    taken over every origin and series. Only the dependence of the misses matters,
    not the scale of the errors or their distribution's tails.

    Parameters
    ----------
    n_dates : int
        Number of forecast origins of the test span, at least 1.
    correlation : array-like of shape (n_series, n_series)
        Correlation of the forecast errors across the series forecast at each origin
        (symmetric, positive semi-definite, ones on the diagonal), e.g. the sample
        correlation of a model's errors by maturity.
    horizon : int, default=1
        Forecast horizon in periods of the origins; errors of origins fewer than
        ``horizon`` periods apart share shocks.
    coverage : float, default=0.95
        Nominal coverage of the intervals, strictly inside (0, 1).
    n_draws : int, default=2000
        Number of simulated test spans.
    random_state : int, RandomState instance or None, default=None
        Seed of the shocks; the same seed gives the same draws.

    Returns
    -------
    picps : ndarray of shape (n_draws,)
        The PICP of each simulated test span. The share of draws at least as far
        from ``coverage`` as an observed PICP is a two-sided p-value of exact
        calibration; the share farther than a tolerance is the chance that exact
        intervals miss it.

    See Also
    --------
    picp : the coverage of a set of intervals.
    kupiec_test : the same question for independent one-step misses.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.metrics import simulate_calibrated_picp
    >>> correlation = np.full((6, 6), 0.8) + 0.2 * np.eye(6)
    >>> picps = simulate_calibrated_picp(300, correlation, horizon=12, random_state=0)
    >>> bool(abs(picps.mean() - 0.95) < 0.005), bool(0.01 < picps.std() < 0.04)
    (True, True)
    """
    n_dates = check_int(n_dates, "n_dates", minimum=1)
    horizon = check_int(horizon, "horizon", minimum=1)
    n_draws = check_int(n_draws, "n_draws", minimum=1)
    coverage = check_probability(coverage, "coverage")
    factor = _correlation_factor(correlation)
    rng = check_random_state(random_state)
    bound = stats.norm.ppf(0.5 + coverage / 2.0) * np.sqrt(horizon)
    n_periods = n_dates + horizon - 1
    picps = np.empty(n_draws)
    for draw in range(n_draws):
        shocks = rng.standard_normal((n_periods, factor.shape[1])) @ factor.T
        walk = np.vstack([np.zeros(factor.shape[0]), np.cumsum(shocks, axis=0)])
        errors = walk[horizon:] - walk[:-horizon]
        picps[draw] = np.mean(np.abs(errors) <= bound)
    return picps
