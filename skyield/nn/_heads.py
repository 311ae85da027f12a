"""Distributional output heads and their losses, shared by the deep forecasters.

A head turns features (or the raw outputs of a network) into a predictive distribution
per output:

- non-crossing quantiles (Richman and Scognamiglio, 2024, eqs. 4.1-4.3, generalised to
  any set of levels): a centre plus positive increments accumulated outwards, so that
  the quantiles are increasing in the level whatever the weights
  (:func:`non_crossing_quantiles`, :class:`QuantileHeads`), trained with the pinball
  losses plus a loss of the centre (:class:`QuantileCenterLoss`, eq. 4.4);
- a Gaussian mean and standard deviation (:class:`GaussianHeads`), trained with the
  Gaussian negative log-likelihood (:class:`GaussianNLL`).

:class:`DistributionOutput` wraps a point network whose last layer gives several values
per output (the LSTM forecasters) and applies the same transforms to them.

Every output tensor of a head is ``(batch, n_rows, n_outputs)``: the centre (or mean)
first, then the quantiles in level order (or the standard deviation). All modules are
picklable (no lambdas) and ``torch.func.vmap``-able.
"""

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "DistributionOutput",
    "GaussianHeads",
    "GaussianNLL",
    "QuantileCenterLoss",
    "QuantileHeads",
    "non_crossing_quantiles",
]


def _identity(x):
    return x


OUTPUT_ACTIVATIONS = {"sigmoid": torch.sigmoid, "linear": _identity}
SPREAD_ACTIVATIONS = {"sigmoid": torch.sigmoid, "softplus": F.softplus}


def _glorot(layer):
    nn.init.xavier_uniform_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


class _QuantileLayout:
    """Which raw rows feed which quantile level (shared by the heads and the wrapper)."""

    def __init__(self, quantiles, center):
        self.levels = [float(q) for q in quantiles]
        self.below = [q for q in self.levels if q < 0.5]
        self.above = [q for q in self.levels if q > 0.5]
        self.has_median = 0.5 in self.levels
        self.median_offset = self.has_median and center == "mean"

    @property
    def n_raw(self):
        """Raw values per output: the centre, one increment per level off 0.5, and the
        median's offset from a mean centre."""
        return 1 + len(self.below) + len(self.above) + int(self.median_offset)


def _center(g, raw, base=None):
    """``g(raw)``, or ``base + g(raw) - g(0)``: a change from ``base`` (a skip connection)."""
    if base is None:
        return g(raw)
    return base + (g(raw) - g(raw.new_zeros(())))


def non_crossing_quantiles(raw, layout, g=_identity, phi=F.softplus, base=None):
    """Centre and non-crossing quantiles from raw values.

    Parameters
    ----------
    raw : Tensor of shape (batch, n_raw, n_outputs)
        Rows: the centre, the increments of the levels below 0.5 (nearest first), those
        above 0.5 (nearest first), then the median's offset when the centre is a mean.
    layout : _QuantileLayout
    g : callable, default=identity
        Activation of the centre.
    phi : callable, default=softplus
        Positive activation of the increments.
    base : Tensor of shape (batch, n_outputs), optional
        With a base the centre is ``base + g(.) - g(0)``: the raw centre gives the change
        from ``base`` (which is ``base`` itself when the raw centre is zero).

    Returns
    -------
    out : Tensor of shape (batch, 1 + n_quantiles, n_outputs)
        The centre, then the quantiles in level order.
    """
    center = _center(g, raw[:, 0], base)
    n_below, n_above = len(layout.below), len(layout.above)
    low = high = median = center
    if layout.median_offset:
        median = center + raw[:, 1 + n_below + n_above]
        low, high = torch.minimum(center, median), torch.maximum(center, median)
    parts = [center[:, None]]
    if n_below:
        steps = phi(raw[:, 1:1 + n_below]).cumsum(dim=1)  # nearest level first
        parts.append((low[:, None] - steps).flip(1))
    if layout.has_median:
        parts.append(median[:, None])
    if n_above:
        steps = phi(raw[:, 1 + n_below:1 + n_below + n_above]).cumsum(dim=1)
        parts.append(high[:, None] + steps)
    return torch.cat(parts, dim=1)


class QuantileHeads(nn.Module):
    """Central forecast and non-crossing quantiles (eqs. 4.1-4.3, generalised).

    One affine map of the features gives, per output, a central value and one raw
    increment per quantile level. The centre is ``g(.)``; levels below 0.5 are reached
    from it by subtracting ``phi_plus`` of their increments cumulatively (nearest level
    first), levels above 0.5 by adding them, so that every quantile sequence is
    increasing by construction, whatever the weights. With levels
    ``(alpha / 2, 1 - alpha / 2)`` this is exactly eqs. 4.1-4.3.

    A level of exactly 0.5 is the centre itself when the centre is the median
    (``center="median"``). When it is the mean, the median is the centre plus an
    unconstrained offset, and the chains below and above start from the smaller and
    the larger of the two.

    Parameters
    ----------
    n_features : int
        Inputs to the heads.
    n_outputs : int
        Outputs (maturities) per head.
    quantiles : sequence of float
        Strictly increasing levels in (0, 1).
    center : {"median", "mean"}, default="median"
        What the centre estimates (set by the loss: gamma 1 or 2).
    output_activation : {"sigmoid", "linear"}, default="sigmoid"
        ``g``.
    spread_activation : {"sigmoid", "softplus"}, default="sigmoid"
        ``phi_plus``, a positive function.

    Shape
    -----
    ``forward(z, base=None)`` with ``z`` of shape ``(batch, n_features)``; output
    ``(batch, 1 + n_quantiles, n_outputs)``: the centre, then the quantiles in level
    order. With ``base`` of shape ``(batch, n_outputs)`` the centre is
    ``base + g(.) - g(0)``: the heads give the change from ``base``, which is ``base``
    itself when their affine map is zero.
    """

    def __init__(self, n_features, n_outputs, quantiles, center="median",
                 output_activation="sigmoid", spread_activation="sigmoid"):
        super().__init__()
        self.layout = _QuantileLayout(quantiles, center)
        self.levels = self.layout.levels
        self.n_outputs = n_outputs
        self.g = OUTPUT_ACTIVATIONS[output_activation]
        self.phi = SPREAD_ACTIVATIONS[spread_activation]
        self.linear = _glorot(nn.Linear(n_features, self.layout.n_raw * n_outputs))

    def forward(self, z, base=None):
        raw = self.linear(z).unflatten(-1, (-1, self.n_outputs))
        return non_crossing_quantiles(raw, self.layout, self.g, self.phi, base)


class GaussianHeads(nn.Module):
    """Mean and standard deviation of a Gaussian forecast (YC_ATT_DE, section 6.1).

    Parameters
    ----------
    n_features : int
        Inputs to the heads.
    n_outputs : int
        Outputs (maturities) per head.
    output_activation : {"sigmoid", "linear"}, default="sigmoid"
        Activation of the mean.
    spread_activation : {"sigmoid", "softplus"}, default="sigmoid"
        Positive activation of the standard deviation.

    Shape
    -----
    ``forward(z, base=None)`` with ``z`` of shape ``(batch, n_features)``; output
    ``(batch, 2, n_outputs)``: mean, standard deviation. With ``base`` the mean is
    ``base + g(.) - g(0)``, as in :class:`QuantileHeads`.
    """

    def __init__(self, n_features, n_outputs, output_activation="sigmoid",
                 spread_activation="sigmoid"):
        super().__init__()
        self.n_outputs = n_outputs
        self.g = OUTPUT_ACTIVATIONS[output_activation]
        self.phi = SPREAD_ACTIVATIONS[spread_activation]
        self.linear = _glorot(nn.Linear(n_features, 2 * n_outputs))

    def forward(self, z, base=None):
        raw = self.linear(z).unflatten(-1, (2, self.n_outputs))
        return torch.stack([_center(self.g, raw[:, 0], base), self.phi(raw[:, 1])], dim=1)


class DistributionOutput(nn.Module):
    """A point network turned into a distributional one.

    The wrapped module's output ``(batch, n_steps, n_targets * n_raw)`` (its last layer
    sized for ``n_raw`` values per output) is read as ``n_raw`` raw values per
    (step, target) output and transformed: into the centre and non-crossing quantiles
    (``distribution="quantile"``, softplus increments) or into a Gaussian mean and a
    softplus standard deviation (``distribution="gaussian"``). The centre and the mean
    are linear (no output activation).

    Parameters
    ----------
    module : nn.Module
        Returns ``(batch, n_steps, n_targets * n_raw)``, or a tuple whose first element
        is that (further elements, e.g. attention weights, are passed through).
    n_targets : int
        Target series per step.
    distribution : {"quantile", "gaussian"}
    quantiles : sequence of float, default=()
        Levels of the quantile heads.
    center : {"median", "mean"}, default="median"
        What the centre of the quantile heads estimates.

    Shape
    -----
    Output ``(batch, n_rows, n_steps * n_targets)`` (steps major), with ``n_rows``
    ``1 + n_quantiles`` or 2, ready for :class:`QuantileCenterLoss` or
    :class:`GaussianNLL` against targets ``(batch, n_steps * n_targets)``.
    """

    def __init__(self, module, n_targets, distribution, quantiles=(), center="median"):
        super().__init__()
        if distribution not in ("quantile", "gaussian"):
            raise ValueError(
                f"distribution must be 'quantile' or 'gaussian', got {distribution!r}")
        self.module = module
        self.n_targets = n_targets
        self.distribution = distribution
        self.layout = _QuantileLayout(quantiles, center)

    @staticmethod
    def n_raw(distribution, quantiles=(), center="median"):
        """Raw values per output the wrapped module must give."""
        if distribution == "gaussian":
            return 2
        return _QuantileLayout(quantiles, center).n_raw

    def forward(self, x, **kwargs):
        out = self.module(x, **kwargs)
        raw, rest = (out[0], out[1:]) if isinstance(out, tuple) else (out, ())
        batch, n_steps = raw.shape[:2]
        # (batch, steps, targets * rows) -> (batch, rows, steps * targets)
        raw = raw.reshape(batch, n_steps, self.n_targets, -1).permute(0, 3, 1, 2)
        raw = raw.reshape(batch, raw.shape[1], n_steps * self.n_targets)
        if self.distribution == "gaussian":
            value = torch.stack([raw[:, 0], F.softplus(raw[:, 1])], dim=1)
        else:
            value = non_crossing_quantiles(raw, self.layout)
        return (value, *rest) if rest else value


class QuantileCenterLoss(nn.Module):
    """Eq. 4.4: pinball losses of the quantiles plus ``h_gamma`` of the centre.

    ``L = sum_k mean(rho_{tau_k}(y - q_k)) + mean(h_gamma(y - c))`` with the pinball
    function ``rho_tau(u) = max(tau u, (tau - 1) u)`` and ``h_1(u) = |u|`` (the centre
    estimates the median), ``h_2(u) = u^2`` (the mean). Means run over the samples and
    outputs of a batch: the seed's sums over families, dates and maturities divided by
    their number, which has the same minimiser and keeps the learning rate independent
    of the data size.

    Parameters
    ----------
    quantiles : sequence of float
        Levels of the quantile outputs, in order.
    gamma : {1, 2}, default=1

    Shape
    -----
    ``forward(output, target)`` with output ``(batch, 1 + n_quantiles, n_outputs)`` and
    target ``(batch, n_outputs)``; returns a scalar.
    """

    def __init__(self, quantiles, gamma=1):
        super().__init__()
        self.register_buffer("levels", torch.tensor([float(q) for q in quantiles]))
        self.gamma = gamma

    def forward(self, output, target):
        error = target - output[:, 0]
        center = error.abs() if self.gamma == 1 else error.square()
        diff = target[:, None, :] - output[:, 1:]
        levels = self.levels.to(output.dtype)[:, None]
        pinball = torch.maximum(levels * diff, (levels - 1.0) * diff)
        return center.mean() + pinball.mean(dim=(0, 2)).sum()


class GaussianNLL(nn.Module):
    """Gaussian negative log-likelihood of section 6.1 (up to a constant).

    ``mean(0.5 * (log sigma^2 + (y - mu)^2 / sigma^2))`` with ``sigma^2`` floored at
    ``eps``.

    Parameters
    ----------
    eps : float, default=1e-6

    Shape
    -----
    ``forward(output, target)`` with output ``(batch, 2, n_outputs)`` (mean, standard
    deviation) and target ``(batch, n_outputs)``; returns a scalar.
    """

    def __init__(self, eps=1e-6):
        super().__init__()
        self.eps = eps

    def forward(self, output, target):
        variance = output[:, 1].square().clamp_min(self.eps)
        return 0.5 * (variance.log() + (target - output[:, 0]).square() / variance).mean()
