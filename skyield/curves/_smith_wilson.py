"""Smith-Wilson inter- and extrapolation of a risk-free curve to an ultimate forward rate.

This follows EIOPA's technical documentation of the methodology to derive the
Solvency II risk-free interest rate term structures (EIOPA-BoS-15/035 and later
versions, section on extrapolation). With ``omega = log(1 + UFR)`` (the UFR is quoted
annually compounded, so ``omega`` is the ultimate forward *intensity*), the price of a
zero-coupon bond maturing at ``t`` is::

    P(t) = exp(-omega t) + sum_i zeta_i sum_k C[i, k] W(t, v_k),
    W(t, v) = exp(-omega (t + v)) * (alpha min(t, v)
              - 0.5 exp(-alpha max(t, v)) (exp(alpha min(t, v)) - exp(-alpha min(t, v)))),

the Wilson kernel ``W``, where instrument ``i`` pays ``C[i, k]`` at the dates ``v_k``
(a zero-coupon bond: 1 at its maturity; a par swap or bond: its coupons and 1 at
maturity). The ``zeta`` solve ``C W C' zeta = m - C exp(-omega v)`` for the market prices
``m`` (a zero-coupon bond priced from its rate; 1 for a par instrument), so the curve
reprices every input exactly. ``alpha`` (the convergence speed) is the smallest value
``>= 0.05`` on a grid of step ``alpha_step`` at which the forward intensity at the
convergence point ``T`` lies within ``tolerance_bp`` basis points of ``omega``
(EIOPA's 1 bp criterion). EIOPA's convergence point is ``max(LLP + 40, 60)`` years,
``LLP`` the last liquid point.

The search for alpha is EIOPA's nested scan: steps of 0.1 from ``alpha_min`` up to the
first value that meets the criterion, then steps ten times smaller between the last
value that failed and the first that met it, down to ``alpha_step``. Like EIOPA's tool,
it assumes that within one coarse step, once the criterion holds it keeps holding for
larger alpha (the gap ``|f(T) - omega|`` decreases in alpha in practice).

No library on the project's dependency list implements EIOPA's Smith-Wilson method, so
it is written here.

References
----------
Smith, A. and Wilson, T. (2001). Fitting yield curves with long term constraints.
Research notes, Bacon and Woodrow.

EIOPA (2015). Technical documentation of the methodology to derive EIOPA's risk-free
interest rate term structures, EIOPA-BoS-15/035, subsection on extrapolation and its
annex on the Smith-Wilson method (section 7 in the version of 12 September 2019).

EIOPA (2015). Smith-Wilson risk-free interest rate extrapolation tool (Excel workbook).

EIOPA. Questions and answers on regulation, Q&A 262 (risk-free interest rate
extrapolation): the convergence criterion is on forward intensities.

The Solvency II review changes the extrapolation method; this module implements the
Smith-Wilson method of the documentation above.
"""

from dataclasses import dataclass

import numpy as np

from ._conventions import check_compounding, check_units, from_continuous, to_continuous
from ._inputs import check_curve, check_times

__all__ = ["SmithWilsonCurve", "smith_wilson"]

_COARSE_STEP = 0.1
_ALPHA_MAX = 20.0
_GRID_EPS = 1e-9


def _wilson_h(alpha, t, v):
    """``H(alpha t, alpha v) = W(t, v) exp(omega (t + v))`` for arrays ``t[:, None]``, ``v``."""
    s, u = alpha * t[:, None], alpha * v[None, :]
    low, high = np.minimum(s, u), np.maximum(s, u)
    # alpha min - exp(-alpha max) sinh(alpha min), written without overflow.
    return low - 0.5 * (np.exp(-(high - low)) - np.exp(-(high + low)))


def _wilson_h_slope(alpha, t, v):
    """``d H(alpha t, alpha v) / dt``."""
    s, u = alpha * t[:, None], alpha * v[None, :]
    before = alpha * (1.0 - 0.5 * (np.exp(s - u) + np.exp(-(s + u))))
    after = alpha * 0.5 * (np.exp(-(s - u)) - np.exp(-(s + u)))
    return np.where(s < u, before, after)


def _calibrate(alpha, omega, dates, cash_flows, prices):
    """Weights ``gamma_k = exp(-omega v_k) (C' zeta)_k`` on the cash-flow dates."""
    mu = np.exp(-omega * dates)
    scaled = cash_flows * mu  # C diag(mu)
    matrix = scaled @ _wilson_h(alpha, dates, dates) @ scaled.T
    zeta = np.linalg.solve(matrix, prices - cash_flows @ mu)
    return zeta, mu * (cash_flows.T @ zeta)


def _forward(alpha, omega, dates, gamma, times):
    h = _wilson_h(alpha, times, dates) @ gamma
    slope = _wilson_h_slope(alpha, times, dates) @ gamma
    return omega - slope / (1.0 + h)


def _gap(alpha, omega, dates, cash_flows, prices, point):
    _, gamma = _calibrate(alpha, omega, dates, cash_flows, prices)
    return abs(float(_forward(alpha, omega, dates, gamma, np.array([point]))[0]) - omega)


def _search_alpha(gap, alpha_min, alpha_step, tolerance):
    """Smallest ``alpha_min + n alpha_step`` meeting ``gap(alpha) <= tolerance``."""
    def alpha_at(n):
        return alpha_min + n * alpha_step

    if gap(alpha_at(0)) <= tolerance:
        return alpha_at(0)
    stride = 1
    while stride * alpha_step * 10 <= _COARSE_STEP * (1 + _GRID_EPS):
        stride *= 10
    n = stride
    while gap(alpha_at(n)) > tolerance:
        n += stride
        if alpha_at(n) > _ALPHA_MAX:
            raise ValueError(
                f"no alpha up to {_ALPHA_MAX:g} brings the forward intensity at the "
                f"convergence point within the tolerance of the UFR; check the inputs "
                f"or raise tolerance_bp"
            )
    # gap(n - stride) failed and gap(n) passed: refine between them.
    while stride > 1:
        stride //= 10
        start = n - 10 * stride
        for k in range(1, 11):
            if gap(alpha_at(start + k * stride)) <= tolerance:
                n = start + k * stride
                break
    return alpha_at(n)


@dataclass(frozen=True)
class SmithWilsonCurve:
    """A calibrated Smith-Wilson curve; call its methods at any maturities.

    Returned by :func:`smith_wilson`. Rates are returned in the ``compounding`` and
    ``units`` the curve was calibrated with unless the methods are told otherwise.

    Attributes
    ----------
    maturities : ndarray of shape (n_instruments,)
        Maturities of the input instruments in years.
    rates : ndarray of shape (n_instruments,)
        The input rates as given (in ``units``).
    ufr : float
        Ultimate forward rate, annually compounded, in ``units``.
    omega : float
        Ultimate forward intensity ``log(1 + UFR)`` (decimal).
    alpha : float
        Convergence speed.
    convergence_point : float
        Maturity ``T`` in years at which convergence is measured.
    convergence_gap : float
        ``|f(T) - omega|`` in decimals, ``f`` the forward intensity.
    dates : ndarray of shape (n_dates,)
        Cash-flow dates of the instruments in years.
    cash_flows : ndarray of shape (n_instruments, n_dates)
        Cash flows of the instruments at ``dates``.
    zeta : ndarray of shape (n_instruments,)
        Calibrated weights of the instruments' kernel functions.
    instrument, frequency, compounding, units
        As passed to :func:`smith_wilson`.
    """

    maturities: np.ndarray
    rates: np.ndarray
    ufr: float
    omega: float
    alpha: float
    convergence_point: float
    convergence_gap: float
    dates: np.ndarray
    cash_flows: np.ndarray
    zeta: np.ndarray
    instrument: str
    frequency: int
    compounding: object
    units: str

    @property
    def _gamma(self):
        return np.exp(-self.omega * self.dates) * (self.cash_flows.T @ self.zeta)

    def discount_factors(self, t):
        """Discount factors ``P(t)``.

        Parameters
        ----------
        t : array-like of shape (n_times,)
            Maturities in years, non-negative.

        Returns
        -------
        discount_factors : ndarray of shape (n_times,)
        """
        times = check_times(t, "t", allow_zero=True)
        return np.exp(-self.omega * times) * (
            1.0 + _wilson_h(self.alpha, times, self.dates) @ self._gamma)

    def zero_rates(self, t, *, compounding=None, units=None):
        """Zero rates at maturities ``t``.

        Parameters
        ----------
        t : array-like of shape (n_times,)
            Maturities in years, positive.
        compounding : str or int, default=None
            Compounding of the result; None uses the calibration's.
        units : {"decimal", "percent"}, default=None
            Units of the result; None uses the calibration's.

        Returns
        -------
        zero_rates : ndarray of shape (n_times,)
        """
        times = check_times(t, "t")
        kind = check_compounding(self.compounding if compounding is None else compounding)
        scale = check_units(self.units if units is None else units)
        continuous = -np.log(self.discount_factors(times)) / times
        return from_continuous(continuous, kind, times) * scale

    def forward_intensities(self, t, *, units=None):
        """Instantaneous forward rates (continuously compounded) ``-d log P(t) / dt``.

        Parameters
        ----------
        t : array-like of shape (n_times,)
            Times in years, non-negative.
        units : {"decimal", "percent"}, default=None
            Units of the result; None uses the calibration's.

        Returns
        -------
        forwards : ndarray of shape (n_times,)
            Tends to ``omega`` (not to the annually compounded UFR) as ``t`` grows.
        """
        times = check_times(t, "t", allow_zero=True)
        scale = check_units(self.units if units is None else units)
        return _forward(self.alpha, self.omega, self.dates, self._gamma, times) * scale


def _check_positive_real(value, name, *, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _instruments(tau, rates, instrument, frequency, kind):
    """Cash-flow dates, cash-flow matrix and market prices of the inputs (decimals)."""
    if instrument == "zero":
        zero = to_continuous(rates, kind, tau, "rates")
        return tau.copy(), np.eye(tau.size), np.exp(-zero * tau)
    periods = tau * frequency
    if not np.allclose(periods, np.round(periods), rtol=0, atol=1e-9):
        bad = tau[~np.isclose(periods, np.round(periods), rtol=0, atol=1e-9)]
        raise ValueError(
            f"instrument='par' needs maturities that are whole numbers of coupon periods "
            f"(frequency={frequency}); {bad.tolist()} years are not"
        )
    n_dates = int(round(periods[-1]))
    dates = np.arange(1, n_dates + 1) / frequency
    cash_flows = np.zeros((tau.size, n_dates))
    for i, count in enumerate(np.round(periods).astype(int)):
        cash_flows[i, :count] = rates[i] / frequency
        cash_flows[i, count - 1] += 1.0
    return dates, cash_flows, np.ones(tau.size)


def smith_wilson(maturities, rates, *, ufr, convergence_point=None, alpha=None,
                 alpha_min=0.05, alpha_step=1e-6, tolerance_bp=1.0, instrument="zero",
                 frequency=1, compounding="continuous", units="decimal"):
    """Calibrate a Smith-Wilson curve to liquid rates and an ultimate forward rate.

    Parameters
    ----------
    maturities : array-like of shape (n_instruments,) or None
        Maturities of the liquid instruments in years, strictly increasing; None reads
        them from the index of a Series.
    rates : array-like of shape (n_instruments,) or Series
        Zero rates (``instrument="zero"``) or par rates (``instrument="par"``) of the
        liquid instruments, up to the last liquid point.
    ufr : float
        Ultimate forward rate, **annually compounded** as EIOPA quotes it (0.033 for
        3.3%, or 3.3 with ``units="percent"``). The forward intensity converges to
        ``omega = log(1 + ufr)``.
    convergence_point : float, default=None
        Maturity ``T`` in years at which the forward intensity must be within the
        tolerance of ``omega``; None uses EIOPA's ``max(LLP + 40, 60)``, ``LLP`` the
        last maturity.
    alpha : float, default=None
        Convergence speed. None searches it as EIOPA does (see Notes).
    alpha_min : float, default=0.05
        Lower bound of the alpha search (EIOPA's 0.05).
    alpha_step : float, default=1e-6
        Grid step of the alpha search (EIOPA determines alpha to 6 decimals).
    tolerance_bp : float, default=1.0
        Convergence tolerance in basis points: ``|f(T) - omega| <= tolerance_bp / 1e4``.
    instrument : {"zero", "par"}, default="zero"
        ``"zero"``: zero-coupon bonds priced ``P(u_i)`` from their zero rates. ``"par"``:
        par swaps or bonds with ``frequency`` coupons a year priced at 1 (maturities must
        be whole numbers of coupon periods).
    frequency : int, default=1
        Coupons a year of par instruments (ignored for zero-coupon bonds).
    compounding : {"continuous", "simple", "annual", "semiannual", "quarterly", \
            "monthly"} or int, default="continuous"
        Compounding of zero-coupon ``rates``, and the default of the curve's outputs.
        EIOPA publishes annually compounded spot rates: pass ``compounding="annual"``.
    units : {"decimal", "percent"}, default="decimal"
        Units of ``rates``, ``ufr`` and of the curve's outputs.

    Returns
    -------
    curve : SmithWilsonCurve
        Methods ``discount_factors(t)``, ``zero_rates(t)`` and
        ``forward_intensities(t)`` evaluate it at any maturities; ``alpha`` and
        ``convergence_gap`` report the calibration.

    Raises
    ------
    ValueError
        If no alpha up to 20 meets the convergence criterion, or for invalid inputs.

    Notes
    -----
    The search returns the smallest grid value ``alpha_min + n alpha_step`` at which
    ``|f(T) - omega| <= tolerance_bp * 1e-4``, scanning as EIOPA's tool does: steps of
    0.1, then 0.01, ... down to ``alpha_step``, each time between the last value that
    failed and the first that passed. The convergence criterion is on forward
    *intensities* (EIOPA Q&A 262 on the risk-free rate extrapolation).

    References
    ----------
    Smith, A. and Wilson, T. (2001). Fitting yield curves with long term constraints.
    Research notes, Bacon and Woodrow.

    EIOPA (2015). Technical documentation of the methodology to derive EIOPA's risk-free
    interest rate term structures, EIOPA-BoS-15/035, subsection on extrapolation and its
    Smith-Wilson annex (section 7 in the version of 12 September 2019).

    Examples
    --------
    An illustrative EUR-like curve with a UFR of 3.3% and convergence at 60 years:

    >>> from skyield.curves import smith_wilson
    >>> curve = smith_wilson([1, 2, 5, 10, 20], [3.0, 2.8, 2.6, 2.7, 2.6], ufr=3.3,
    ...                      compounding="annual", units="percent")
    >>> curve.convergence_point
    60.0
    >>> curve.zero_rates([1, 2, 5, 10, 20]).round(10)
    array([3. , 2.8, 2.6, 2.7, 2.6])
    >>> bool(abs(curve.forward_intensities([60.0])[0] / 100 - curve.omega) <= 1e-4)
    True
    """
    scale = check_units(units)
    kind = check_compounding(compounding)
    if instrument not in ("zero", "par"):
        raise ValueError(f"instrument must be 'zero' or 'par', got {instrument!r}")
    if isinstance(frequency, bool) or not isinstance(frequency, (int, np.integer)) \
            or frequency < 1:
        raise ValueError(f"frequency must be a positive integer, got {frequency!r}")
    curve = check_curve(maturities, rates, "rates")
    if curve.values.ndim != 1:
        raise ValueError(
            f"smith_wilson calibrates one curve: rates must be one-dimensional, got shape "
            f"{curve.values.shape}; loop over the curves of a stack"
        )
    tau = curve.maturities
    ufr_value = _finite_number(ufr, "ufr") / scale
    if ufr_value <= -1:
        raise ValueError(f"ufr must exceed -100%, got {ufr!r}")
    omega = float(np.log1p(ufr_value))
    point = max(float(tau[-1]) + 40.0, 60.0) if convergence_point is None else \
        _check_positive_real(convergence_point, "convergence_point")
    tolerance = _check_positive_real(tolerance_bp, "tolerance_bp") * 1e-4
    alpha_min = _check_positive_real(alpha_min, "alpha_min")
    alpha_step = _check_positive_real(alpha_step, "alpha_step")
    dates, cash_flows, prices = _instruments(tau, curve.values / scale, instrument,
                                             int(frequency), kind)
    if alpha is None:
        alpha = _search_alpha(
            lambda a: _gap(a, omega, dates, cash_flows, prices, point),
            alpha_min, alpha_step, tolerance)
    else:
        alpha = _check_positive_real(alpha, "alpha")
    zeta, gamma = _calibrate(alpha, omega, dates, cash_flows, prices)
    gap = abs(float(_forward(alpha, omega, dates, gamma, np.array([point]))[0]) - omega)
    return SmithWilsonCurve(
        maturities=tau, rates=curve.values.copy(), ufr=ufr_value * scale, omega=omega,
        alpha=float(alpha), convergence_point=point, convergence_gap=gap, dates=dates,
        cash_flows=cash_flows, zeta=zeta, instrument=instrument, frequency=int(frequency),
        compounding=compounding, units=units,
    )


def _finite_number(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)
