"""The linear Gaussian state space specification and its initialisation.

The model is time-invariant, with ``M`` observed series and ``k`` states::

    y_t = d + Z a_t + eps_t,        eps_t ~ N(0, H)
    a_t = c + T a_{t-1} + eta_t,    eta_t ~ N(0, Q)        t = 1, ..., n

and ``a_1 ~ N(a0, P0)``: ``a0`` and ``P0`` are the moments of the state at the *first
date* given no observations (statsmodels' convention), not those of an earlier state.
"""

from dataclasses import dataclass

import numpy as np
import torch

from ._validation import (
    DTYPE,
    as_tensor,
    batch_index_note,
    broadcast_batch_shapes,
    broadcast_shapes,
    check_core_shape,
    check_finite,
    check_psd,
    check_symmetric,
    has_values,
    host,
    is_positive_definite,
    resolve_device,
)

#: Variance of each state at the first date under ``init="diffuse"`` (statsmodels'
#: ``approximate_diffuse`` default).
DIFFUSE_VARIANCE = 1e6

_INITS = ("stationary", "diffuse", "known")


@dataclass(frozen=True, eq=False)
class StateSpaceModel:
    """Validated matrices of a time-invariant linear Gaussian state space model.

    The model reads, for dates ``t = 1, ..., n``::

        y_t = d + Z a_t + eps_t,        eps_t ~ N(0, H)
        a_t = c + T a_{t-1} + eta_t,    eta_t ~ N(0, Q)
        a_1 ~ N(a0, P0)

    so ``a0``/``P0`` are the one-step-ahead (predicted) moments of the state at the first
    date, as in statsmodels. All fields are float64 tensors. Each may carry its own
    leading batch dimensions; they broadcast together to ``batch_shape``.

    Attributes
    ----------
    Z : Tensor of shape (..., M, k)
        Design (loading) matrix.
    T : Tensor of shape (..., k, k)
        Transition matrix.
    H : Tensor of shape (..., M, M)
        Measurement noise covariance (positive definite).
    Q : Tensor of shape (..., k, k)
        State noise covariance (positive semi-definite).
    c : Tensor of shape (..., k)
        State intercept.
    d : Tensor of shape (..., M)
        Observation intercept.
    a0 : Tensor of shape (..., k)
        Mean of the state at the first date.
    P0 : Tensor of shape (..., k, k)
        Covariance of the state at the first date.
    init : {"stationary", "diffuse", "known"}
        How ``a0`` and ``P0`` were obtained.
    batch_shape : torch.Size
        Broadcast batch shape of the parameters and the observations they were built with.

    References
    ----------
    Kauffmann, Takada, Terada and Stern (2022), "Learning Forecast-Efficient Yield Curve
    Factor Decompositions with Neural Networks", Econometrics 10(2), 15, section 3.1.
    """

    Z: torch.Tensor
    T: torch.Tensor
    H: torch.Tensor
    Q: torch.Tensor
    c: torch.Tensor
    d: torch.Tensor
    a0: torch.Tensor
    P0: torch.Tensor
    init: str
    batch_shape: torch.Size

    @property
    def k_endog(self):
        """Number of observed series ``M``."""
        return self.Z.shape[-2]

    @property
    def k_states(self):
        """Number of states ``k``."""
        return self.Z.shape[-1]


def solve_discrete_lyapunov(T, Q):
    """Solve ``P = T P T' + Q`` for ``P`` (batched, differentiable).

    Parameters
    ----------
    T : Tensor of shape (..., k, k)
        Stable transition matrix (spectral radius below one).
    Q : Tensor of shape (..., k, k)
        Symmetric right-hand side.

    Returns
    -------
    P : Tensor of shape (..., k, k)
        The symmetric solution.

    Notes
    -----
    The equation is solved through its vectorised form ``(I - T kron T) vec(P) = vec(Q)``,
    a ``k**2 x k**2`` linear system: exact, batched and differentiable, and cheap for the
    handful of states of factor models.

    References
    ----------
    Hamilton (1994), *Time Series Analysis*, section 10.2 (the unconditional covariance
    of a VAR(1)).

    Examples
    --------
    >>> import torch
    >>> from skyield.statespace import solve_discrete_lyapunov
    >>> P = solve_discrete_lyapunov(torch.tensor([[0.5]]), torch.tensor([[0.75]]))
    >>> float(P)
    1.0
    """
    P, info = lyapunov_ex(T, Q)
    if bool(info.any()):
        raise ValueError(
            "solve_discrete_lyapunov needs a stable T: P = T P T' + Q has no unique solution"
            f"{batch_index_note(info != 0)}."
        )
    return P


def lyapunov_ex(T, Q):
    """:func:`solve_discrete_lyapunov` without the check: ``(P, info)``, info nonzero
    where the system is singular (for callers that know ``T`` to be stable)."""
    k = T.shape[-1]
    kk = k * k
    # Row (i, j), column (l, m) of the Kronecker product is T_il T_jm.
    kron = (T[..., :, None, :, None] * T[..., None, :, None, :]).reshape(*T.shape[:-2], kk, kk)
    batch = broadcast_shapes(kron.shape[:-2], Q.shape[:-2])
    eye = torch.eye(kk, dtype=T.dtype, device=T.device)
    rhs = Q.reshape(*Q.shape[:-2], kk).expand(*batch, kk)
    P, info = torch.linalg.solve_ex((eye - kron).expand(*batch, kk, kk), rhs)
    P = P.reshape(*batch, k, k)
    return 0.5 * (P + P.mT), info


def stationary_moments(T, Q, c=None):
    """Unconditional mean and covariance of the stationary state process.

    Parameters
    ----------
    T : array-like or Tensor of shape (..., k, k)
        Transition matrix; its spectral radius must be below one.
    Q : array-like or Tensor of shape (..., k, k)
        State noise covariance.
    c : array-like or Tensor of shape (..., k), default=None
        State intercept (zero when omitted).

    Returns
    -------
    mean : Tensor of shape (..., k)
        ``(I - T)^{-1} c``.
    cov : Tensor of shape (..., k, k)
        Solution of ``P = T P T' + Q``.

    Raises
    ------
    ValueError
        If ``T`` is not stable, naming the first offending batch index.

    References
    ----------
    Kauffmann, Takada, Terada and Stern (2022), "Learning Forecast-Efficient Yield Curve
    Factor Decompositions with Neural Networks", Econometrics 10(2), 15, eq. (3) (the
    VAR(1) factor dynamics whose stationary law starts the filter).

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.statespace import stationary_moments
    >>> mean, cov = stationary_moments(np.diag([0.5, 0.8]), np.eye(2), c=[1.0, 0.2])
    >>> mean.numpy().round(6).tolist(), cov.diagonal().numpy().round(6).tolist()
    ([2.0, 1.0], [1.333333, 2.777778])
    """
    device = resolve_device(T=T, Q=Q, c=c)
    T = as_tensor(T, "T", device)
    Q = as_tensor(Q, "Q", device)
    check_core_shape(T, "T", {})
    k = T.shape[-1]
    dims = {"k": k}
    check_core_shape(T, "T", dims, source="T")
    check_core_shape(Q, "Q", dims, source="T")
    c = torch.zeros(k, dtype=DTYPE, device=device) if c is None else as_tensor(c, "c", device)
    check_core_shape(c, "c", dims, source="T")
    broadcast_batch_shapes({"T": T.shape[:-2], "Q": Q.shape[:-2], "c": c.shape[:-1]})
    for name, tensor in (("T", T), ("Q", Q), ("c", c)):
        check_finite(tensor, name)
    return _stationary_moments(T, Q, c)


def _stationary_moments(T, Q, c):
    P = lyapunov_ex(T, Q)[0]
    # With Q positive definite, a positive definite solution of P = T P T' + Q proves T
    # stable (Lyapunov): two Cholesky factors, cheaper than the eigenvalues of T, which
    # are computed only when that test cannot tell.
    if not (is_positive_definite(Q) and is_positive_definite(P)):
        radius = np.abs(host(torch.linalg.eigvals(T.detach()))).max(axis=-1)
        unstable = radius >= 1.0
        if unstable.any():
            worst = float(radius.max())
            raise ValueError(
                "init='stationary' needs a stable transition matrix T (all eigenvalues "
                f"inside the unit circle); spectral radius {worst:.6g}"
                f"{batch_index_note(unstable)}. Use init='diffuse' or init='known' for "
                "non-stationary states."
            )
    k = T.shape[-1]
    eye = torch.eye(k, dtype=T.dtype, device=T.device)
    batch = broadcast_shapes(T.shape[:-2], c.shape[:-1])
    # Stable T: the system is not singular, so no synchronising check.
    mean = torch.linalg.solve_ex((eye - T).expand(*batch, k, k), c.expand(*batch, k))[0]
    return mean, P


def build_model(y, Z, T, H, Q, a0, P0, c, d, init):
    """Validate the arguments of a filter call and return ``(model, y)`` as tensors."""
    if init not in _INITS:
        raise ValueError(f"init must be one of {_INITS}; got {init!r}.")
    device = resolve_device(y=y, Z=Z, T=T, H=H, Q=Q, a0=a0, P0=P0, c=c, d=d)
    Z = as_tensor(Z, "Z", device)
    if Z.ndim < 2:
        raise ValueError(f"Z must have shape (..., M, k); got shape {tuple(Z.shape)}.")
    M, k = Z.shape[-2], Z.shape[-1]
    dims = {"M": M, "k": k}
    y = as_tensor(y, "y", device)
    if y.ndim < 2:
        raise ValueError(
            f"y must have shape (..., n_dates, M) with M={M} observed series taken from Z; got "
            f"shape {tuple(y.shape)} (write a single series as a column: y[:, None])."
        )
    tensors = {"y": y, "Z": Z}
    for name, value in (("T", T), ("H", H), ("Q", Q)):
        tensors[name] = as_tensor(value, name, device)
    defaults = set()
    for name, value, size in (("c", c, k), ("d", d, M)):
        if value is None:
            tensors[name] = torch.zeros(size, dtype=DTYPE, device=device)
            defaults.add(name)
        else:
            tensors[name] = as_tensor(value, name, device)
    _check_init_arguments(init, a0, P0)
    if a0 is not None:
        tensors["a0"] = as_tensor(a0, "a0", device)
    if P0 is not None:
        tensors["P0"] = as_tensor(P0, "P0", device)

    batch_shapes = {name: check_core_shape(t, name, dims) for name, t in tensors.items()}
    batch_shape = broadcast_batch_shapes(batch_shapes)
    if y.shape[-2] < 1:
        raise ValueError("y must contain at least one date (y.shape[-2] >= 1).")
    if has_values(y, "inf"):
        index = tuple(int(i) for i in torch.isinf(y).nonzero()[0])
        raise ValueError(
            f"y contains infinite values (first at index {index}); only NaN marks a missing value."
        )
    for name, t in tensors.items():
        if name != "y" and name not in defaults:
            check_finite(t, name)
    for name in ("H", "Q", "P0"):
        if name in tensors:
            check_symmetric(tensors[name], name)
    for name in ("Q", "P0"):
        if name in tensors:
            check_psd(tensors[name], name)

    Tm, Qm, cm = tensors["T"], tensors["Q"], tensors["c"]
    if init == "stationary":
        a0_t, P0_t = _stationary_moments(Tm, Qm, cm)
    elif init == "diffuse":
        a0_t = tensors.get("a0", torch.zeros(k, dtype=DTYPE, device=device))
        P0_t = DIFFUSE_VARIANCE * torch.eye(k, dtype=DTYPE, device=device)
    else:
        a0_t, P0_t = tensors["a0"], tensors["P0"]
    batch_shape = broadcast_shapes(batch_shape, a0_t.shape[:-1], P0_t.shape[:-2])
    model = StateSpaceModel(
        Z=Z, T=Tm, H=tensors["H"], Q=Qm, c=cm, d=tensors["d"], a0=a0_t, P0=P0_t,
        init=init, batch_shape=batch_shape,
    )
    return model, y


def _check_init_arguments(init, a0, P0):
    if init == "known" and (a0 is None or P0 is None):
        missing = " and ".join(n for n, v in (("a0", a0), ("P0", P0)) if v is None)
        raise ValueError(f"init='known' needs both a0 and P0; {missing} not given.")
    if init == "stationary" and (a0 is not None or P0 is not None):
        raise ValueError(
            "a0 and P0 are computed from T, Q and c when init='stationary'; pass "
            "init='known' to supply them."
        )
    if init == "diffuse" and P0 is not None:
        raise ValueError(
            f"init='diffuse' sets P0 = {DIFFUSE_VARIANCE:g} * I; pass init='known' to supply P0."
        )
