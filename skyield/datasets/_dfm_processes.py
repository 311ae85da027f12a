"""The six Monte Carlo dynamic factor processes of Snellman's Transformer paper.

Each process has one latent factor ``x_t`` and ``k = 5`` observables ``y_t``. The paper
prints most parameter values (section 3.4 and the footnotes of section 3.5); the values it
leaves unstated are fixed here once and listed in :func:`make_dfm_process`'s Notes.

The state recursion is a scalar loop in plain Python: the processes are nonlinear or
regime switching, so no vectorised filter applies to all of them, and one code path keeps
the transition used for simulation identical to :func:`dfm_state_mean`.
"""

import math
import numbers

import numpy as np
from scipy import stats
from scipy.signal import lfilter
from sklearn.utils import Bunch, check_random_state

__all__ = [
    "dfm_error_logpdf",
    "dfm_measurement_mean",
    "dfm_process_spec",
    "dfm_shock_logpdf",
    "dfm_state_mean",
    "make_dfm_process",
    "spow",
]

_SPOW_EPS = 1e-4
_DF = 10.0
_SKEW = -2.0
_BURN_IN = 1000

_MU_Y_BASE = (0.79, -0.47, -0.26, 0.15, 0.82)
_BETA_BASE = (0.58, 1.56, 1.62, 1.23, 1.18)
_ALPHA_ARMA = (0.74, 0.15, 0.074)
_Y_AR = (0.2, 0.05, 0.02)

# The error correlation matrix R of eq. (42) of process p is the single draw
# ``_random_correlation(5, np.random.RandomState(p))``; the legacy RandomState stream is
# frozen by NumPy, so R never changes.

# Signal-to-noise ratio Var(beta_i h_i(x_t)) / sigma_{y,i}^2, the same for every variable of
# a process, chosen so that the R^2 of the cross-sectional mean of y_t for x_t is close to
# the "Mean(y)" column of the paper's Tables 6, 8 and 10 (0.66, 0.63, 0.87, 0.89, 0.90,
# 0.92). _SIGNAL_STD holds the stationary standard deviations of the signals
# beta_i h_i(x_t) (``_signals``), measured once on a 2,000,000-period simulation
# (random_state=12345, burn-in 1000). sigma_{y,i} = _SIGNAL_STD[i] / sqrt(_SNR).
_SNR = {1: 0.86, 2: 0.83, 3: 3.0, 4: 4.2, 5: 2.6, 6: 3.4}
_SIGNAL_STD = {
    1: (1.008, 1.247, 0.599, 0.978, 0.908),
    2: (0.459, 2.018, 1.294, 1.736, 0.958),
    3: (0.710, 1.909, 1.982, 1.505, 1.444),
    4: (1.539, 4.000, 1.942, 1.166, 0.581),
    5: (0.741, 2.437, 2.085, 2.025, 1.547),
    6: (0.966, 2.901, 2.703, 2.348, 1.974),
}

_NAMES = {
    1: "linear-Gaussian",
    2: "nonlinear measurements",
    3: "nonlinear state",
    4: "fully nonlinear",
    5: "ARMA(3,1)",
    6: "Markov switching",
}

_SIGMA_X_UNIT = dict(
    sigma_x="not printed; sqrt(1 - 0.96**2) = 0.28 gives the state a unit stationary "
    "variance, so it spans the curved part of spow at c_y = 0.77",
)
_T_SHOCKS = (
    "t(10) scaled to standard deviation sigma_x (sigma_x^2 read as the variance, as "
    "eqs. (51) and (54) state it for the skewed t)"
)
_SKEW_T = (
    "Azzalini-Capitanio skew-t with df 10 and slant -2, centred to mean 0 and scaled to "
    "standard deviation sigma_x"
)
_T_ERRORS = "multivariate t(10) with covariance cov_y (one chi-square mixing per period)"
_T_ERRORS_TABLE2 = _T_ERRORS + ", as Table 2 states; the equation prints N(0, Sigma_y)"
# Shared by every process: the paper leaves D and R of eq. (42) unstated.
_NOISE_ASSUMPTIONS = dict(
    snr="chosen so that the R^2 of the cross-sectional mean of y_t for x_t is close to "
    "the Mean(y) column of Tables 6, 8 and 10; the same for every variable",
    sigma_y="signal_std / sqrt(snr): a uniform signal-to-noise ratio (section 3.4)",
    corr_y="off-diagonal 0.3 plus uniform jitter in +-0.15, centred to average exactly "
    "0.3; one fixed draw per process",
)

# Values printed in the paper (footnotes 10-12 and section 3.4); ``assumptions`` names
# and explains the ones it leaves open.
_PROCESSES = {
    1: dict(
        alpha=(0.96,), ma=0.0, phi=None, c_x=None, sigma_x=0.28,
        shock_dist=("normal",), mu_y=(0.11, 0.61, 0.70, -0.74, 0.65),
        beta=(1.01, 1.25, 0.60, 0.98, 0.91), gamma=None, c_y=None, y_ar=None,
        error_dist=("normal",), regime_scale=(1.0,), transition_probs=None,
        assumptions=dict(_SIGMA_X_UNIT),
    ),
    2: dict(
        alpha=(0.96,), ma=0.0, phi=None, c_x=None, sigma_x=0.28,
        shock_dist=("normal",), mu_y=(0.79, -0.47, -0.256, 0.146, 0.82),
        beta=_BETA_BASE, gamma=(0.55, 1.37, 0.57, 1.48, 0.61), c_y=0.77, y_ar=None,
        error_dist=("t",), regime_scale=(1.0,), transition_probs=None,
        assumptions=dict(_SIGMA_X_UNIT, error_dist=_T_ERRORS_TABLE2),
    ),
    3: dict(
        alpha=(0.96,), ma=0.0, phi=0.36, c_x=0.13, sigma_x=1.2,
        shock_dist=("t",), mu_y=_MU_Y_BASE, beta=_BETA_BASE, gamma=None, c_y=None,
        y_ar=None, error_dist=("normal",), regime_scale=(1.0,), transition_probs=None,
        assumptions=dict(
            shock_dist=_T_SHOCKS,
            gamma="the printed (0.61, 1.24, 0.63, 1.34, 0.68) is unused: eq. (48) and "
            "Table 2 make the measurements linear",
        ),
    ),
    4: dict(
        alpha=(0.96,), ma=0.0, phi=0.8, c_x=1.0, sigma_x=0.65,
        shock_dist=("t",), mu_y=(-0.46, -0.43, 0.24, 0.85, 0.10),
        beta=(1.41, 1.50, 1.60, 0.94, 0.51), gamma=(1.08, 0.67, 1.03, 1.02, 1.06),
        c_y=15.0, y_ar=None, error_dist=("t",), regime_scale=(1.0,),
        transition_probs=None,
        assumptions=dict(shock_dist=_T_SHOCKS, error_dist=_T_ERRORS_TABLE2),
    ),
    5: dict(
        alpha=_ALPHA_ARMA, ma=_ALPHA_ARMA[1], phi=None, c_x=None, sigma_x=0.387,
        shock_dist=("skew_t",), mu_y=_MU_Y_BASE, beta=_BETA_BASE,
        gamma=(0.68, 1.12, 0.70, 1.21, 0.75), c_y=1.28, y_ar=_Y_AR,
        error_dist=("t",), regime_scale=(1.0,), transition_probs=None,
        assumptions=dict(
            shock_dist=_SKEW_T,
            error_dist=_T_ERRORS,
            phi="the printed 0.8 is unused: eq. (51) and Table 2 make the state linear",
        ),
    ),
    6: dict(
        alpha=_ALPHA_ARMA, ma=0.0, phi=0.8, c_x=2.24, sigma_x=0.51,
        shock_dist=("normal", "skew_t"), mu_y=_MU_Y_BASE, beta=_BETA_BASE,
        gamma=(0.57, 1.34, 0.59, 1.45, 0.62), c_y=1.83, y_ar=_Y_AR,
        error_dist=("normal", "t"), regime_scale=(1.01, 0.98),
        transition_probs=((0.97, 0.03), (0.01, 0.99)),
        assumptions=dict(
            alpha="not printed for process 6; process 5's values. alpha_1 takes f of "
            "x_{t-1}: eq. (53) prints f(x_t, ...), a typo (x_t cannot depend on itself)",
            y_ar="not printed for process 6; process 5's (0.2, 0.05, 0.02). The lag term "
            "'gamma_i beta y_{t-i}' of eq. (55) is read as sum_l y_ar[l-1] y_{i,t-l}",
            shock_dist="regime 0 Gaussian as printed; regime 1: " + _SKEW_T,
            error_dist="regime 0 Gaussian as printed; regime 1: " + _T_ERRORS,
            initial_regime_probs="the regime chain starts from its stationary "
            "distribution (0.25, 0.75)",
        ),
    ),
}


def spow(z, gamma, c, eps=_SPOW_EPS):
    """Smoothed sign-preserving power function of eq. (41).

    ``f(z, gamma, c) = c * sign(z) * ((|z / c| + eps) ** gamma - eps ** gamma)``: a power
    law ``z ** gamma`` at scale ``c`` that keeps the sign of ``z``, smoothed by ``eps`` so
    that its derivative has no kink at 0.

    Parameters
    ----------
    z : float or array-like of shape (...)
        Input values.
    gamma : float or array-like broadcastable with ``z``
        Exponent (positive).
    c : float or array-like broadcastable with ``z``
        Scale (positive).
    eps : float, default=1e-4
        Smoothing constant (footnote 9 of the paper).

    Returns
    -------
    f : ndarray of the broadcast shape of ``z``, ``gamma`` and ``c``

    References
    ----------
    Snellman, "Nonlinear Dynamic Factor Analysis With a Transformer Network", eq. (41)
    and footnote 9.

    Examples
    --------
    >>> from skyield.datasets._dfm_processes import spow
    >>> spow([-4.0, 0.0, 4.0], gamma=0.5, c=1.0).round(3)
    array([-1.99,  0.  ,  1.99])
    """
    z = np.asarray(z, dtype=float)
    return c * np.sign(z) * ((np.abs(z / c) + eps) ** gamma - eps**gamma)


def _spow_scalar(z, gamma, c, eps=_SPOW_EPS):
    if z == 0.0:
        return 0.0
    return math.copysign(c * ((abs(z / c) + eps) ** gamma - eps**gamma), z)


def _random_correlation(k, rng, mean=0.3, jitter=0.15):
    """Correlation matrix with off-diagonal ``mean`` + uniform jitter in +-``jitter``.

    The jitter is centred so that the off-diagonal average is exactly ``mean``, and shrunk
    back into +-``jitter`` if centring pushed an element outside. Any such matrix with
    ``k = 5``, ``mean = 0.3`` and ``jitter = 0.15`` is positive definite (its smallest
    eigenvalue is at least ``1 - mean - (k - 1) * jitter = 0.1``).
    """
    upper = rng.uniform(-jitter, jitter, size=k * (k - 1) // 2)
    upper -= upper.mean()
    largest = np.max(np.abs(upper))
    if largest > jitter:
        upper *= jitter / largest
    return _corr_from_upper(mean + upper, k)


def _corr_from_upper(upper, k):
    corr = np.eye(k)
    rows, cols = np.triu_indices(k, 1)
    corr[rows, cols] = upper
    corr[cols, rows] = upper
    return corr


def _check_process(process):
    if isinstance(process, (bool, np.bool_)) or not isinstance(process, numbers.Integral):
        raise TypeError(
            f"process must be an integer from 1 to 6, got {process!r} "
            f"of type {type(process).__name__}"
        )
    if process not in _PROCESSES:
        raise ValueError(f"process must be one of 1, 2, 3, 4, 5, 6; got {process!r}")
    return int(process)


def _check_count(value, name, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type "
                        f"{type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def dfm_process_spec(process):
    """True parameters of one of the six Monte Carlo processes, without simulating.

    Parameters
    ----------
    process : int
        Process number, 1 to 6 (section 3.5 of the paper).

    Returns
    -------
    params : dict
        Every parameter the simulation uses (a fresh copy on each call):

        - ``process`` (int), ``name`` (str), ``k`` (int, 5 observables).
        - State ``x_t = mu_x + alpha[0]^s g(x_{t-1}) + sum_{l>=2} alpha[l-1] x_{t-l}
          + ma * eps_{t-1} + eps_t`` with ``g(x) = spow(x, phi^s, c_x)`` when ``phi`` is
          not None and ``g(x) = x`` otherwise: ``mu_x`` (float), ``alpha`` (ndarray of
          shape (p,)), ``ma`` (float), ``phi`` (float or None), ``c_x`` (float or None),
          ``x0`` (float, value of the state and of its lags before the first period).
        - Shocks: ``sigma_x`` (float, their standard deviation), ``shock_dist`` (tuple of
          str per regime: ``"normal"``, ``"t"`` or ``"skew_t"``), ``df`` (10.0),
          ``skew`` (-2.0, Azzalini slant of the skewed t).
        - Measurements ``y_{i,t} = mu_y[i] + beta[i]^s h_i(x_t) + sum_l y_ar[l-1]
          y_{i,t-l} + u_{i,t}`` with ``h_i(x) = spow(x, gamma[i]^s, c_y)`` when ``gamma``
          is not None and ``h_i(x) = x`` otherwise: ``mu_y``, ``beta`` (ndarrays of shape
          (k,)), ``gamma`` (ndarray of shape (k,) or None), ``c_y`` (float or None),
          ``y_ar`` (ndarray of shape (3,) or None).
        - Errors ``u_t`` with covariance ``cov_y = D corr_y D`` (eq. 42),
          ``D = diag(sigma_y)``: ``sigma_y`` (k,), ``corr_y`` (k, k), ``cov_y`` (k, k),
          ``snr`` (float, ``Var(beta_i h_i(x_t)) / sigma_y[i]**2`` for every ``i``),
          ``signal_std`` (k,), ``error_dist`` (tuple of str per regime: ``"normal"`` or
          ``"t"``, the multivariate t with ``df`` degrees of freedom).
        - Regimes: ``n_regimes`` (1 or 2), ``regime_scale`` (tuple, multiplier of
          ``alpha[0]``, ``phi``, ``beta`` and ``gamma`` in each regime),
          ``transition_probs`` (ndarray of shape (2, 2), row ``i`` holds
          ``P(s_t = j | s_{t-1} = i)``, or None), ``initial_regime_probs``.
        - ``spow_eps`` (1e-4), ``burn_in`` (default burn-in, 1000), ``assumptions``
          (dict: each entry the paper leaves unstated or ambiguous, mapped to the choice
          made; see :func:`make_dfm_process`).

    Raises
    ------
    TypeError, ValueError
        If ``process`` is not an integer from 1 to 6.

    See Also
    --------
    make_dfm_process : Simulate a process with these parameters.
    dfm_state_mean, dfm_measurement_mean, dfm_shock_logpdf, dfm_error_logpdf :
        The transition and measurement densities, vectorised for particle filters.

    References
    ----------
    Snellman, "Nonlinear Dynamic Factor Analysis With a Transformer Network",
    sections 3.4-3.5, eqs. (41)-(56) and footnotes 7-12.

    Examples
    --------
    >>> from skyield.datasets._dfm_processes import dfm_process_spec
    >>> spec = dfm_process_spec(4)
    >>> spec["alpha"], spec["phi"], spec["sigma_x"], spec["shock_dist"]
    (array([0.96]), 0.8, 0.65, ('t',))
    """
    process = _check_process(process)
    raw = _PROCESSES[process]
    k = len(raw["mu_y"])
    signal_std = np.array(_SIGNAL_STD[process], dtype=float)
    snr = float(_SNR[process])
    sigma_y = signal_std / math.sqrt(snr)
    corr_y = _random_correlation(k, np.random.RandomState(process))
    if raw["transition_probs"] is None:
        transition_probs = None
        initial = np.ones(1)
    else:
        transition_probs = np.array(raw["transition_probs"], dtype=float)
        p01, p10 = transition_probs[0, 1], transition_probs[1, 0]
        initial = np.array([p10, p01]) / (p01 + p10)
    return {
        "process": process,
        "name": _NAMES[process],
        "k": k,
        "mu_x": 0.0,
        "x0": 0.0,
        "alpha": np.array(raw["alpha"], dtype=float),
        "ma": float(raw["ma"]),
        "phi": raw["phi"],
        "c_x": raw["c_x"],
        "sigma_x": float(raw["sigma_x"]),
        "shock_dist": tuple(raw["shock_dist"]),
        "df": _DF,
        "skew": _SKEW,
        "mu_y": np.array(raw["mu_y"], dtype=float),
        "beta": np.array(raw["beta"], dtype=float),
        "gamma": None if raw["gamma"] is None else np.array(raw["gamma"], dtype=float),
        "c_y": raw["c_y"],
        "y_ar": None if raw["y_ar"] is None else np.array(raw["y_ar"], dtype=float),
        "error_dist": tuple(raw["error_dist"]),
        "snr": snr,
        "signal_std": signal_std,
        "sigma_y": sigma_y,
        "corr_y": corr_y,
        "cov_y": sigma_y[:, None] * corr_y * sigma_y[None, :],
        "n_regimes": len(raw["regime_scale"]),
        "regime_scale": tuple(raw["regime_scale"]),
        "transition_probs": transition_probs,
        "initial_regime_probs": initial,
        "spow_eps": _SPOW_EPS,
        "burn_in": _BURN_IN,
        "assumptions": {**raw["assumptions"], **_NOISE_ASSUMPTIONS},
    }


def _regime_scale(params, regime):
    scale = np.asarray(params["regime_scale"], dtype=float)
    regime = np.asarray(regime)
    if regime.size and (regime.min() < 0 or regime.max() >= scale.size):
        raise ValueError(
            f"regime must be in 0..{scale.size - 1} for process {params['process']}, "
            f"got values in {regime.min()}..{regime.max()}"
        )
    return scale[regime]


def dfm_state_mean(params, x_lags, *, shock_lag=0.0, regime=0):
    """Conditional mean of the state, ``E[x_t | x_{t-1}, ..., x_{t-p}, eps_{t-1}, s_t]``.

    Vectorised over particles: this is the deterministic predictor of an auxiliary
    particle filter, and ``x_t = dfm_state_mean(...) + eps_t`` is exactly the transition
    :func:`make_dfm_process` simulates.

    Parameters
    ----------
    params : dict
        As returned by :func:`dfm_process_spec` (or ``make_dfm_process(...).params``).
    x_lags : array-like of shape (..., p)
        ``x_lags[..., 0]`` is ``x_{t-1}``, ``x_lags[..., l - 1]`` is ``x_{t-l}``;
        ``p = len(params["alpha"])``.
    shock_lag : float or array-like of shape (...), default=0.0
        Previous shock ``eps_{t-1}``; only process 5 (the MA(1) term) uses it.
    regime : int or array-like of shape (...), default=0
        Regime ``s_t`` (0 or 1 for process 6; 0 otherwise).

    Returns
    -------
    mean : ndarray of shape (...)

    References
    ----------
    Snellman, "Nonlinear Dynamic Factor Analysis With a Transformer Network",
    eqs. (43), (45), (47), (49), (51) and (53).

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.datasets._dfm_processes import dfm_process_spec, dfm_state_mean
    >>> spec = dfm_process_spec(1)
    >>> dfm_state_mean(spec, np.array([[1.0], [-2.0]]))
    array([ 0.96, -1.92])
    """
    x_lags = np.asarray(x_lags, dtype=float)
    alpha = params["alpha"]
    if x_lags.ndim == 0 or x_lags.shape[-1] != alpha.size:
        raise ValueError(
            f"x_lags must have shape (..., {alpha.size}) for process "
            f"{params['process']}, got shape {x_lags.shape}"
        )
    scale = _regime_scale(params, regime)
    first = x_lags[..., 0]
    if params["phi"] is not None:
        first = spow(first, params["phi"] * scale, params["c_x"], params["spow_eps"])
    mean = params["mu_x"] + alpha[0] * scale * first
    for lag in range(1, alpha.size):
        mean = mean + alpha[lag] * x_lags[..., lag]
    return mean + params["ma"] * np.asarray(shock_lag, dtype=float)


def dfm_measurement_mean(params, x, *, y_lags=None, regime=0):
    """Conditional mean of the observables, ``E[y_t | x_t, y_{t-1}, ..., y_{t-3}, s_t]``.

    Parameters
    ----------
    params : dict
        As returned by :func:`dfm_process_spec`.
    x : float or array-like of shape (...)
        State ``x_t`` (e.g. one value per particle).
    y_lags : array-like of shape (..., 3, k), default=None
        ``y_lags[..., l - 1, :]`` is ``y_{t-l}``. Required by processes 5 and 6, whose
        measurements are autoregressive; ignored by the others.
    regime : int or array-like of shape (...), default=0
        Regime ``s_t`` (0 or 1 for process 6; 0 otherwise).

    Returns
    -------
    mean : ndarray of shape (..., k)

    References
    ----------
    Snellman, "Nonlinear Dynamic Factor Analysis With a Transformer Network",
    eqs. (44), (46), (48), (50), (52) and (55).

    Examples
    --------
    >>> from skyield.datasets._dfm_processes import dfm_process_spec, dfm_measurement_mean
    >>> spec = dfm_process_spec(1)
    >>> dfm_measurement_mean(spec, 0.0)
    array([ 0.11,  0.61,  0.7 , -0.74,  0.65])
    """
    x = np.asarray(x, dtype=float)[..., None]
    scale = np.asarray(_regime_scale(params, regime), dtype=float)[..., None]
    beta = params["beta"] * scale
    if params["gamma"] is None:
        signal = beta * x
    else:
        signal = beta * spow(x, params["gamma"] * scale, params["c_y"], params["spow_eps"])
    mean = params["mu_y"] + signal
    if params["y_ar"] is not None:
        if y_lags is None:
            raise ValueError(
                f"process {params['process']} has autoregressive measurements: pass "
                f"y_lags of shape (..., 3, {params['k']})"
            )
        y_lags = np.asarray(y_lags, dtype=float)
        if y_lags.ndim < 2 or y_lags.shape[-2:] != (params["y_ar"].size, params["k"]):
            raise ValueError(
                f"y_lags must have shape (..., {params['y_ar'].size}, {params['k']}), "
                f"got shape {y_lags.shape}"
            )
        mean = mean + np.einsum("l,...lk->...k", params["y_ar"], y_lags)
    return mean


def _skew_t_moments(df, skew):
    delta = skew / math.sqrt(1.0 + skew * skew)
    b = math.sqrt(df / math.pi) * math.exp(
        math.lgamma((df - 1.0) / 2.0) - math.lgamma(df / 2.0)
    )
    mean = delta * b
    return delta, mean, math.sqrt(df / (df - 2.0) - mean * mean)


def _shock_draws(dist, sigma, df, skew, z0, z1, w):
    """Shocks with mean 0 and standard deviation ``sigma`` from shared base variates."""
    if dist == "normal":
        return sigma * z1
    if dist == "t":
        return sigma * z1 * np.sqrt((df - 2.0) / w)
    delta, mean, std = _skew_t_moments(df, skew)
    # Azzalini-Capitanio: skew-normal over an independent sqrt(chi2 / df).
    raw = (delta * np.abs(z0) + math.sqrt(1.0 - delta * delta) * z1) / np.sqrt(w / df)
    return sigma * (raw - mean) / std


def dfm_shock_logpdf(params, shock, *, regime=0):
    """Log density of the state shock ``eps_t`` (mean 0, standard deviation ``sigma_x``).

    Parameters
    ----------
    params : dict
        As returned by :func:`dfm_process_spec`.
    shock : float or array-like of shape (...)
        Shock values ``eps_t = x_t - dfm_state_mean(...)``.
    regime : int or array-like of shape (...), default=0
        Regime ``s_t``.

    Returns
    -------
    logpdf : ndarray of shape (...)

    References
    ----------
    Azzalini, A. and Capitanio, A. (2003). Distributions generated by perturbation of
    symmetry with emphasis on a multivariate skew t-distribution. JRSS B, 65(2), 367-389.

    Examples
    --------
    >>> from skyield.datasets._dfm_processes import dfm_process_spec, dfm_shock_logpdf
    >>> float(dfm_shock_logpdf(dfm_process_spec(1), 0.0).round(4))
    0.354
    """
    shock = np.asarray(shock, dtype=float)
    regime = np.broadcast_to(np.asarray(regime), shock.shape)
    _regime_scale(params, regime)
    sigma, df = params["sigma_x"], params["df"]
    out = np.empty(shock.shape)
    for r, dist in enumerate(params["shock_dist"]):
        mask = regime == r
        e = shock[mask]
        if dist == "normal":
            out[mask] = stats.norm.logpdf(e, scale=sigma)
        elif dist == "t":
            scale = sigma * math.sqrt((df - 2.0) / df)
            out[mask] = stats.t.logpdf(e, df, scale=scale)
        else:
            skew = params["skew"]
            _, mean, std = _skew_t_moments(df, skew)
            z = mean + std * e / sigma
            arg = skew * z * np.sqrt((df + 1.0) / (df + z * z))
            out[mask] = (
                math.log(2.0) + stats.t.logpdf(z, df) + stats.t.logcdf(arg, df + 1.0)
                + math.log(std / sigma)
            )
    return out


def dfm_error_logpdf(params, error, *, regime=0):
    """Log density of the measurement error vector ``u_t`` (covariance ``cov_y``).

    Parameters
    ----------
    params : dict
        As returned by :func:`dfm_process_spec`.
    error : array-like of shape (..., k)
        Errors ``u_t = y_t - dfm_measurement_mean(...)``.
    regime : int or array-like of shape (...), default=0
        Regime ``s_t``.

    Returns
    -------
    logpdf : ndarray of shape (...)

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.datasets._dfm_processes import dfm_process_spec, dfm_error_logpdf
    >>> dfm_error_logpdf(dfm_process_spec(2), np.zeros((2, 5))).shape
    (2,)
    """
    error = np.asarray(error, dtype=float)
    k = params["k"]
    if error.ndim == 0 or error.shape[-1] != k:
        raise ValueError(f"error must have shape (..., {k}), got shape {error.shape}")
    regime = np.broadcast_to(np.asarray(regime), error.shape[:-1])
    _regime_scale(params, regime)
    cov, df = params["cov_y"], params["df"]
    out = np.empty(error.shape[:-1])
    for r, dist in enumerate(params["error_dist"]):
        mask = regime == r
        if dist == "normal":
            out[mask] = stats.multivariate_normal(np.zeros(k), cov).logpdf(error[mask])
        else:
            shape = cov * (df - 2.0) / df
            out[mask] = stats.multivariate_t(np.zeros(k), shape, df=df).logpdf(error[mask])
    return out


def _simulate(params, n_total, rng):
    k = params["k"]
    df = params["df"]
    # Fixed draw order: regimes, shock variates, error variates.
    if params["transition_probs"] is None:
        regimes = np.zeros(n_total, dtype=np.int64)
    else:
        probs = params["transition_probs"]
        uniforms = rng.uniform(size=n_total)
        regimes = np.empty(n_total, dtype=np.int64)
        state = int(uniforms[0] >= params["initial_regime_probs"][0])
        regimes[0] = state
        for t in range(1, n_total):
            state = int(uniforms[t] < probs[state, 1])
            regimes[t] = state
    z0 = rng.standard_normal(n_total)
    z1 = rng.standard_normal(n_total)
    w = rng.chisquare(df, size=n_total)
    shocks = np.empty(n_total)
    for r, dist in enumerate(params["shock_dist"]):
        mask = regimes == r
        shocks[mask] = _shock_draws(
            dist, params["sigma_x"], df, params["skew"], z0[mask], z1[mask], w[mask]
        )
    z = rng.standard_normal((n_total, k))
    w_error = rng.chisquare(df, size=n_total)
    chol = np.linalg.cholesky(params["cov_y"])
    errors = z @ chol.T
    for r, dist in enumerate(params["error_dist"]):
        if dist == "t":
            mask = regimes == r
            errors[mask] *= np.sqrt((df - 2.0) / w_error[mask])[:, None]

    factor = _state_path(params, shocks, regimes)

    drive = params["mu_y"] + _signals(params, factor, regimes) + errors
    if params["y_ar"] is None:
        observables = drive
    else:
        observables = _autoregress(drive, params["y_ar"])
    return factor, observables, regimes, shocks, errors


def _signals(params, factor, regimes):
    """``beta_i^s h_i(x_t)`` of shape (n, k): the part of ``y_t`` the factor drives."""
    scale = np.asarray(params["regime_scale"])[regimes][:, None]
    beta = params["beta"] * scale
    if params["gamma"] is None:
        return beta * factor[:, None]
    return beta * spow(
        factor[:, None], params["gamma"] * scale, params["c_y"], params["spow_eps"]
    )


def _state_path(params, shocks, regimes):
    n = shocks.size
    alpha = [float(a) for a in params["alpha"]]
    a_rest = alpha[1:]
    p = len(alpha)
    mu, ma, x0 = params["mu_x"], params["ma"], params["x0"]
    phi, c_x, eps = params["phi"], params["c_x"], params["spow_eps"]
    scale = [float(s) for s in params["regime_scale"]]
    lags = [x0] * p
    shock_prev = 0.0
    path = np.empty(n)
    for t, (shock, regime) in enumerate(zip(shocks.tolist(), regimes.tolist())):
        s = scale[regime]
        first = lags[0] if phi is None else _spow_scalar(lags[0], phi * s, c_x, eps)
        value = mu + alpha[0] * s * first + ma * shock_prev + shock
        for a, lag in zip(a_rest, lags[1:]):
            value += a * lag
        path[t] = value
        lags = [value] + lags[:-1]
        shock_prev = shock
    return path


def _autoregress(drive, y_ar):
    """``y_t = drive_t + sum_l y_ar[l-1] y_{t-l}`` with zero lags before the start."""
    return lfilter([1.0], np.concatenate([[1.0], -y_ar]), drive, axis=0)


def make_dfm_process(process, n_samples, *, burn_in=_BURN_IN, random_state=None):
    """Simulate one of the six Monte Carlo dynamic factor processes of the paper.

    One latent factor ``x_t`` drives ``k = 5`` observables ``y_t``. The processes add,
    step by step, nonlinear measurements (2), a nonlinear state with t(10) shocks (3),
    both (4), ARMA(3,1) state and AR(3) measurements with skewed-t shocks (5), and
    two-regime Markov switching (6). See Notes for the equations and every parameter.

    Parameters
    ----------
    process : int
        Process number, 1 to 6.
    n_samples : int
        Number of periods returned (the paper uses 800 for training and validation plus
        1000 for testing).
    burn_in : int, default=1000
        Periods simulated from ``x_0 = 0`` and discarded before the returned sample
        (footnote 8: 1000).
    random_state : int, RandomState instance or None, default=None
        Seed of the shocks, errors and regimes. Parameters never change with it (as in
        the paper, where seeds change only the random shocks and errors).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With attributes

        observables : ndarray of shape (n_samples, 5)
            The observed variables ``y_t``, unstandardised (the paper standardises them
            before training; ``params`` refers to this raw scale).
        factor : ndarray of shape (n_samples,)
            The true latent factor ``x_t``.
        regimes : ndarray of shape (n_samples,) of int, or None
            Regime ``s_t`` in {0, 1} for process 6, None for the others.
        state_shocks : ndarray of shape (n_samples,)
            State shocks ``eps_t``.
        measurement_errors : ndarray of shape (n_samples, 5)
            Measurement errors ``u_t``.
        params : dict
            Every parameter used, as returned by :func:`dfm_process_spec`.
        process : int
            The process number.

    Raises
    ------
    TypeError
        If ``process``, ``n_samples`` or ``burn_in`` is not an integer.
    ValueError
        If ``process`` is not in 1..6, ``n_samples < 1`` or ``burn_in < 0``.

    See Also
    --------
    dfm_process_spec : The parameters without simulating.
    dfm_state_mean, dfm_measurement_mean, dfm_shock_logpdf, dfm_error_logpdf :
        Transition and measurement densities for an oracle particle filter.

    Notes
    -----
    Common to all processes (section 3.4): ``f(z, gamma, c) = c sign(z)
    ((|z/c| + 1e-4)^gamma - 1e-4^gamma)`` is the smoothed sign-preserving power
    :func:`spow`; ``mu_x = 0``; the state and its lags start at 0; ``k = 5``. The
    measurement errors have covariance ``Sigma_y = D R D`` (eq. 42), serially
    uncorrelated and independent of the state shocks.

    - Process 1: ``x_t = 0.96 x_{t-1} + eps_t``, ``eps_t ~ N(0, sigma_x^2)``;
      ``y_t = mu_y + beta x_t + u_t``, ``u_t ~ N(0, Sigma_y)``.
    - Process 2: the state of process 1; ``y_{it} = mu_{y,i} + beta_i f(x_t, gamma_i,
      c_y) + u_{it}``, ``u_t ~ t_10(0, Sigma_y)``.
    - Process 3: ``x_t = 0.96 f(x_{t-1}, phi, c_x) + eps_t``, ``eps_t ~ t_10`` with
      standard deviation ``sigma_x``; linear measurements, ``u_t ~ N(0, Sigma_y)``.
    - Process 4: the state of process 3; the measurements of process 2.
    - Process 5: ``x_t = sum_{l=1}^3 alpha_l x_{t-l} + eps_t + alpha_2 eps_{t-1}``,
      ``eps_t`` skewed t (df 10, slant -2, standard deviation ``sigma_x``);
      ``y_{it} = mu_{y,i} + beta_i f(x_t, gamma_i, c_y) + sum_{l=1}^3 a_l y_{i,t-l} +
      u_{it}``, ``u_t ~ t_10(0, Sigma_y)``.
    - Process 6: regime ``s_t`` with ``P(s_t=1 | s_{t-1}=0) = 0.03`` and
      ``P(s_t=0 | s_{t-1}=1) = 0.01``; ``x_t = alpha_1^s f(x_{t-1}, phi^s, c_x) +
      alpha_2 x_{t-2} + alpha_3 x_{t-3} + eps_t``; measurements as in process 5 with
      ``beta_i^s`` and ``gamma_i^s``; regime 0 multiplies ``alpha_1``, ``phi``,
      ``beta_i`` and ``gamma_i`` by 1.01 and has Gaussian shocks and errors, regime 1
      multiplies them by 0.98 and has skewed-t shocks and t(10) errors.

    Parameter values; (A) marks an assumption, everything else is printed in the paper:

    | process | alpha             | sigma_x  | phi  | c_x  | c_y  | shocks / errors  |
    |---------|-------------------|----------|------|------|------|------------------|
    | 1       | 0.96              | 0.28 (A) |      |      |      | N / N            |
    | 2       | 0.96              | 0.28 (A) |      |      | 0.77 | N / t (A)        |
    | 3       | 0.96              | 1.2      | 0.36 | 0.13 |      | t / N            |
    | 4       | 0.96              | 0.65     | 0.8  | 1    | 15   | t / t (A)        |
    | 5       | 0.74, 0.15, 0.074 | 0.387    |      |      | 1.28 | skew-t / t       |
    | 6       | as 5 (A)          | 0.51     | 0.8  | 2.24 | 1.83 | N, skew-t / N, t |

    Process 5 also has the MA coefficient 0.15 and the measurement lag coefficients
    ``a = (0.2, 0.05, 0.02)``, which process 6 reuses (A); ``df = 10`` and the skewed-t
    slant -2 are printed.

    ``mu_y``, ``beta`` and ``gamma`` are the vectors printed in footnotes 10-12
    (``params`` holds them). The assumptions, each fixed for good:

    - ``sigma_x = 0.28`` for processes 1-2 (not printed): ``sqrt(1 - 0.96^2)``, a unit
      stationary variance, so that the state spans the curved part of ``f`` at
      ``c_y = 0.77``.
    - Process 2 and 4 errors are multivariate t(10) as Table 2 and the text ("non-Gaussian
      measurements") say, although eqs. (46) and (50) print N.
    - Shock variance: ``sigma_x^2`` is the variance (not the squared scale) of every
      shock distribution, as eqs. (51) and (54) state for the skewed t; t(10) shocks are
      ``sigma_x sqrt(8/10) T`` with ``T ~ t_10``; t(10) errors are the multivariate t
      with covariance ``Sigma_y`` (a shared chi-square mixing variable per period).
    - Skewed t: Azzalini-Capitanio skew-t with 10 degrees of freedom and slant -2,
      centred to mean 0 and scaled to standard deviation ``sigma_x``.
    - Process 3's printed ``gamma`` is not used (its measurements are linear, eq. 48);
      process 5's printed ``phi = 0.8`` is not used (its state is linear, eq. 51 and
      Table 2).
    - The MA coefficient of process 5 is ``alpha_2 = 0.15`` as eq. (51) prints it.
    - Process 6 reuses process 5's ``alpha`` and measurement lag coefficients ``a_l``
      (not printed for process 6), reads ``f(x_t, ...)`` in eq. (53) as
      ``f(x_{t-1}, ...)`` (a typo: the state cannot depend on itself) and the lag term
      ``gamma_i beta y_{t-i}`` of eq. (55) as ``sum_l a_l y_{i,t-l}``; the regime
      sequence starts from its stationary distribution (0.25, 0.75).
    - Measurement error scales ``D``: ``sigma_{y,i} = sd(beta_i h_i(x_t)) / sqrt(snr)``
      with the signal standard deviation taken from a 2,000,000-period simulation, so
      that every variable of a process has the same signal-to-noise ratio ``snr``
      (section 3.4). ``snr`` is chosen per process so that the R^2 of the
      cross-sectional mean of ``y_t`` for the factor is close to the "Mean(y)" column
      of Tables 6, 8 and 10 (0.66, 0.63, 0.87, 0.89, 0.90, 0.92): ``snr`` = 0.86, 0.83,
      3.0, 4.2, 2.6 and 3.4 for processes 1 to 6. ``params["snr"]`` and
      ``params["sigma_y"]`` hold the values.
    - Correlation ``R``: off-diagonal elements 0.3 plus a uniform jitter in +-0.15,
      centred so the off-diagonal mean is exactly 0.3; one fixed draw per process
      (``params["corr_y"]``).

    References
    ----------
    Snellman, "Nonlinear Dynamic Factor Analysis With a Transformer Network",
    sections 3.4-3.5 (eqs. 41-56, Table 2, footnotes 7-12).

    Examples
    --------
    >>> from skyield.datasets._dfm_processes import make_dfm_process
    >>> data = make_dfm_process(6, 1800, random_state=0)
    >>> data.observables.shape, data.factor.shape, data.regimes.shape
    ((1800, 5), (1800,), (1800,))
    >>> sorted(set(data.regimes.tolist()))
    [0, 1]
    """
    process = _check_process(process)
    n_samples = _check_count(n_samples, "n_samples", 1)
    burn_in = _check_count(burn_in, "burn_in", 0)
    rng = check_random_state(random_state)
    params = dfm_process_spec(process)
    factor, observables, regimes, shocks, errors = _simulate(
        params, burn_in + n_samples, rng
    )
    keep = slice(burn_in, None)
    return Bunch(
        observables=observables[keep],
        factor=factor[keep],
        regimes=regimes[keep] if params["n_regimes"] > 1 else None,
        state_shocks=shocks[keep],
        measurement_errors=errors[keep],
        params=params,
        process=process,
    )
