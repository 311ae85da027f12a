"""Simulation of a linear Gaussian state space model (numpy)."""

import numbers

import numpy as np
from sklearn.utils import check_random_state

from skyield.utils import check_covariance, covariance_factor


def simulate_state_space(Z, T, H, Q, n, a0, P0=None, c=None, d=None, random_state=None):
    """Draw observations and states from a linear Gaussian state space model.

    Same model and timing as :func:`kalman_filter`::

        y_t = d + Z a_t + eps_t,        eps_t ~ N(0, H)
        a_t = c + T a_{t-1} + eta_t,    eta_t ~ N(0, Q)       t = 1, ..., n
        a_1 ~ N(a0, P0)                 (a_1 = a0 when P0 is None)

    Parameters
    ----------
    Z : array-like of shape (M, k)
        Design matrix.
    T : array-like of shape (k, k)
        Transition matrix.
    H : array-like of shape (M, M)
        Measurement noise covariance (symmetric positive semi-definite).
    Q : array-like of shape (k, k)
        State noise covariance (symmetric positive semi-definite).
    n : int
        Number of dates (>= 1).
    a0 : array-like of shape (k,)
        Mean of the first state.
    P0 : array-like of shape (k, k), default=None
        Covariance of the first state; ``None`` starts exactly at ``a0``.
    c : array-like of shape (k,), default=None
        State intercept (zeros when omitted).
    d : array-like of shape (M,), default=None
        Observation intercept (zeros when omitted).
    random_state : int, RandomState instance or None, default=None
        Seed or generator (``sklearn.utils.check_random_state``). The same seed gives
        bit-identical draws.

    Returns
    -------
    y : ndarray of shape (n, M)
        Observations.
    states : ndarray of shape (n, k)
        States ``a_1, ..., a_n``.

    Notes
    -----
    Draw order, fixed so that results are reproducible: first an (n, k) block of standard
    normals for the states (row 0 for the deviation of ``a_1`` from ``a0``, used only when
    ``P0`` is given; row t for ``eta_{t+1}``), then an (n, M) block for the measurement
    noise. Covariances enter through the symmetric square root from their eigen
    decomposition, so singular covariances are allowed; eigenvalues below zero by no more
    than round-off (1e-10 relative) count as zero, clearly negative ones raise.

    References
    ----------
    Kauffmann, Takada, Terada and Stern (2022), "Learning Forecast-Efficient Yield Curve
    Factor Decompositions with Neural Networks", Econometrics 10(2), 15, eqs. (3)-(4).

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.statespace import simulate_state_space
    >>> y, states = simulate_state_space(np.ones((3, 1)), [[0.9]], np.eye(3), [[0.1]],
    ...                                  n=100, a0=[0.0], random_state=0)
    >>> y.shape, states.shape
    ((100, 3), (100, 1))
    """
    Z = _as_matrix(Z, "Z", None, None)
    M, k = Z.shape
    T = _as_matrix(T, "T", k, k)
    H = _as_matrix(H, "H", M, M)
    Q = _as_matrix(Q, "Q", k, k)
    a0 = _as_vector(a0, "a0", k)
    c = np.zeros(k) if c is None else _as_vector(c, "c", k)
    d = np.zeros(M) if d is None else _as_vector(d, "d", M)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be an integer; got {type(n).__name__}.")
    if n < 1:
        raise ValueError(f"n must be at least 1; got {n}.")
    sqrt_q = covariance_factor(check_covariance(Q, "Q"))
    sqrt_h = covariance_factor(check_covariance(H, "H"))
    sqrt_p0 = None if P0 is None else covariance_factor(
        check_covariance(_as_matrix(P0, "P0", k, k), "P0"))

    rng = check_random_state(random_state)
    state_noise = rng.standard_normal((n, k))
    obs_noise = rng.standard_normal((n, M))
    states = np.empty((n, k))
    states[0] = a0 if sqrt_p0 is None else a0 + sqrt_p0 @ state_noise[0]
    shocks = state_noise @ sqrt_q.T
    for t in range(1, n):
        states[t] = c + T @ states[t - 1] + shocks[t]
    y = d + states @ Z.T + obs_noise @ sqrt_h.T
    return y, states


def _as_matrix(value, name, rows, cols):
    array = _as_float_array(value, name)
    ok = array.ndim == 2 and (rows is None or array.shape == (rows, cols))
    if not ok:
        expected = "(M, k)" if rows is None else f"({rows}, {cols})"
        raise ValueError(f"{name} must have shape {expected}; got shape {array.shape}.")
    return array


def _as_vector(value, name, size):
    array = _as_float_array(value, name)
    if array.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},); got shape {array.shape}.")
    return array


def _as_float_array(value, name):
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":  # booleans are no numbers here either
        raise TypeError(f"{name} must hold real numbers; got numpy dtype {array.dtype}.")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return array


