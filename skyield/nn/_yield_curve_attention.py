"""Networks of the multiple-yield-curve model YC_ATT and its variants.

The model reads the last ``window`` curves of one family, ``(window, n_series)``, and
the family label, and produces for the next date a central forecast and quantiles (or a
mean and a standard deviation) for every output. It is assembled from three parts:

- a *feature extractor* over the window (:class:`SelfAttention` for YC_ATT,
  :class:`CausalConv` for YC_CONV, :class:`TimeLSTM` for YC_LSTM,
  :class:`TransformerBlock` for YC_TRANS), returning a sequence ``(window, units)``;
- the flattened sequence after dropout, joined with a learned family embedding;
- output heads (:mod:`skyield.nn._heads`): :class:`QuantileHeads` (eqs. 4.1-4.3,
  quantiles that cannot cross) or :class:`GaussianHeads` (the mean and standard
  deviation of YC_ATT_DE); with ``residual=True`` the heads forecast the change from the
  window's last curve, which a skip connection adds back (beyond the seed).

:class:`YieldCurveAttentionNet` puts them together, optionally behind a time-distributed
linear *adapter* that maps another maturity grid onto the one the extractor was trained
on (transfer learning).

Layers are initialised as Keras initialises the seed's listing (Glorot-uniform kernels,
zero biases, orthogonal recurrent kernels, unit forget-gate bias, embeddings uniform on
[-0.05, 0.05]). The LSTM is written out (:class:`TimeLSTM`) rather than taken from
``torch.nn.LSTM`` because ``torch.func.vmap``, which trains seed ensembles as one batched
model, has no batching rule for the fused LSTM kernel; every module here is vmap-able.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from skyield.nn._heads import GaussianHeads, QuantileHeads

__all__ = [
    "CausalConv",
    "SelfAttention",
    "TimeLSTM",
    "TransformerBlock",
    "YieldCurveAttentionNet",
]

EXTRACTORS = ("attention", "conv", "lstm", "transformer")


def _glorot(layer):
    nn.init.xavier_uniform_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def _causal_pad(x, kernel_size):
    # x: (batch, channels, time); pad on the left only so that step t sees t and earlier.
    return F.pad(x, (kernel_size - 1, 0))


class SelfAttention(nn.Module):
    """Scaled dot-product self-attention with time-distributed tanh projections.

    Query, key and value are dense ``tanh`` layers applied to every date of the window;
    the scores ``scale * Q K'`` go through a softmax over the window and weight the
    values. ``scale`` is a learnable scalar (Keras' ``Attention(use_scale=True)``),
    started at ``1 / sqrt(units)``, the paper's fixed scaling.

    Parameters
    ----------
    n_inputs : int
        Features per date.
    units : int
        Size of the query, key and value vectors.

    Shape
    -----
    Input ``(batch, window, n_inputs)``; output ``(batch, window, units)`` and the
    weights ``(batch, window, window)`` (row ``i``: how date ``i`` attends to every
    date; rows sum to one).
    """

    def __init__(self, n_inputs, units):
        super().__init__()
        self.query = _glorot(nn.Linear(n_inputs, units))
        self.key = _glorot(nn.Linear(n_inputs, units))
        self.value = _glorot(nn.Linear(n_inputs, units))
        self.scale = nn.Parameter(torch.tensor(1.0 / math.sqrt(units)))

    def forward(self, x):
        query = torch.tanh(self.query(x))
        key = torch.tanh(self.key(x))
        value = torch.tanh(self.value(x))
        scores = self.scale * query @ key.transpose(-2, -1)
        # The softmax written out: torch.softmax's CPU kernel over a short last axis (a
        # window of about ten dates) is several times slower than these operations.
        weights = (scores - scores.amax(dim=-1, keepdim=True)).exp()
        weights = weights / weights.sum(dim=-1, keepdim=True)
        return weights @ value, weights


class CausalConv(nn.Module):
    """Causal 1-D convolution over the dates of a window, with a tanh activation.

    With ``kernel_size=1`` it is a time-distributed dense layer (YC_CONV).

    Parameters
    ----------
    n_inputs : int
        Features per date.
    units : int
        Filters.
    kernel_size : int, default=1
        Dates seen by each output (the current one and ``kernel_size - 1`` before it).

    Shape
    -----
    Input ``(batch, window, n_inputs)``; output ``(batch, window, units)`` and None
    (no attention weights).
    """

    def __init__(self, n_inputs, units, kernel_size=1):
        super().__init__()
        self.kernel_size = kernel_size
        self.conv = _glorot(nn.Conv1d(n_inputs, units, kernel_size))

    def forward(self, x):
        out = self.conv(_causal_pad(x.transpose(1, 2), self.kernel_size))
        return torch.tanh(out).transpose(1, 2), None


class TimeLSTM(nn.Module):
    """LSTM returning its hidden state at every date (Keras' ``return_sequences=True``).

    Gates ``i, f, g, o`` with sigmoid, sigmoid, tanh, sigmoid activations, state
    ``c_t = f * c_{t-1} + i * g`` and output ``h_t = o * tanh(c_t)``, started from zeros.

    Parameters
    ----------
    n_inputs : int
        Features per date.
    units : int
        Hidden units.

    Shape
    -----
    Input ``(batch, window, n_inputs)``; output ``(batch, window, units)`` and None.
    """

    def __init__(self, n_inputs, units):
        super().__init__()
        self.units = units
        self.input_gates = _glorot(nn.Linear(n_inputs, 4 * units))
        self.hidden_gates = nn.Linear(units, 4 * units, bias=False)
        nn.init.orthogonal_(self.hidden_gates.weight)
        with torch.no_grad():
            self.input_gates.bias[units:2 * units] = 1.0

    def forward(self, x):
        gates_in = self.input_gates(x)
        h = x.new_zeros(x.shape[0], self.units)
        c = x.new_zeros(x.shape[0], self.units)
        outputs = []
        for t in range(x.shape[1]):
            i, f, g, o = (gates_in[:, t] + self.hidden_gates(h)).chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs, dim=1), None


class TransformerBlock(nn.Module):
    """The YC_TRANS feature extractor of the seed's listing.

    A causal convolution (``kernel_size`` dates, tanh) with dropout gives the
    intermediate sequence ``s``; self-attention over ``s`` is added back
    (``r = s + attn(s)``); a position-wise feed-forward network (``ff_multiplier *
    units`` then ``units``, both tanh) is added to that (``r + ff(r)``). As in the
    listing, there is no layer normalisation.

    Parameters
    ----------
    n_inputs : int
        Features per date.
    units : int
        Width of the sequence.
    kernel_size : int, default=3
        Dates seen by the convolution.
    dropout : float, default=0.2
        Dropout after the convolution.
    ff_multiplier : int, default=4
        Width of the feed-forward hidden layer, in multiples of ``units``.

    Shape
    -----
    Input ``(batch, window, n_inputs)``; output ``(batch, window, units)`` and the
    attention weights ``(batch, window, window)``.
    """

    def __init__(self, n_inputs, units, kernel_size=3, dropout=0.2, ff_multiplier=4):
        super().__init__()
        self.conv = CausalConv(n_inputs, units, kernel_size)
        self.dropout = nn.Dropout(dropout)
        self.attention = SelfAttention(units, units)
        self.expand = _glorot(nn.Linear(units, ff_multiplier * units))
        self.contract = _glorot(nn.Linear(ff_multiplier * units, units))

    def forward(self, x):
        intermediate = self.dropout(self.conv(x)[0])
        attended, weights = self.attention(intermediate)
        residual = intermediate + attended
        feed_forward = torch.tanh(self.contract(torch.tanh(self.expand(residual))))
        return feed_forward + residual, weights


def _make_extractor(name, n_inputs, units):
    if name == "attention":
        return SelfAttention(n_inputs, units)
    if name == "conv":
        return CausalConv(n_inputs, units, kernel_size=1)
    if name == "lstm":
        return TimeLSTM(n_inputs, units)
    if name == "transformer":
        return TransformerBlock(n_inputs, units)
    raise ValueError(f"extractor must be one of {EXTRACTORS}, got {name!r}")


class YieldCurveAttentionNet(nn.Module):
    """YC_ATT and its variants: extractor, dropout, family embedding, output heads.

    Parameters
    ----------
    n_series : int
        Series (maturities) per date of the input window.
    n_outputs : int
        Outputs per head (maturities forecast).
    window : int
        Dates per window (the seed's ``L + 1``).
    n_families : int, default=1
        Curve families known to the embedding.
    extractor : {"attention", "conv", "lstm", "transformer"}, default="attention"
        Feature extractor over the window.
    units : int, default=8
        Width of the extractor (``q_A``).
    embedding_size : int, default=5
        Size of the family embedding (``q_I``); 0 for none.
    dropout : float, default=0.5
        Dropout on the flattened features.
    quantiles : sequence of float, default=(0.025, 0.975)
        Quantile levels of :class:`QuantileHeads`.
    center : {"median", "mean"}, default="median"
        What the centre of :class:`QuantileHeads` estimates.
    distribution : {"quantile", "gaussian"}, default="quantile"
        :class:`QuantileHeads` or :class:`GaussianHeads`.
    output_activation, spread_activation : str, default="sigmoid"
        ``g`` and ``phi_plus`` of the heads.
    adapter_outputs : int, default=None
        When set, a time-distributed linear layer maps the ``n_series`` inputs of every
        date to ``adapter_outputs`` values before the extractor (the transfer adapter).
    residual : bool, default=False
        Skip connection: the heads forecast the change from the last curve of the window
        (the input as given, before any adapter), which is added back to the centre (or
        the Gaussian mean): ``centre = y_last + g(.) - g(0)``. For ``n_outputs = horizon *
        n_series`` the last curve is repeated for every horizon (outputs laid out
        horizon-major, as the estimators flatten ``(horizon, n_series)`` targets).
        False is the seed's architecture.

    Shape
    -----
    ``forward(yields, family)`` with yields ``(batch, window, n_series)`` and integer
    family codes ``(batch,)`` returns ``(batch, 1 + n_quantiles, n_outputs)``
    (quantile heads) or ``(batch, 2, n_outputs)`` (Gaussian heads). With
    ``return_attention=True`` it also returns the extractor's attention weights
    ``(batch, window, window)`` (None for "conv" and "lstm"); with
    ``return_features=True`` the embedding and the flattened features before dropout,
    ``(batch, embedding_size + window * units)``.
    """

    def __init__(self, n_series, n_outputs, window, n_families=1, extractor="attention",
                 units=8, embedding_size=5, dropout=0.5, quantiles=(0.025, 0.975),
                 center="median", distribution="quantile", output_activation="sigmoid",
                 spread_activation="sigmoid", adapter_outputs=None, residual=False):
        super().__init__()
        if residual and n_outputs % n_series:
            raise ValueError(
                f"residual=True adds the last input curve to the outputs, so n_outputs "
                f"({n_outputs}) must be a multiple of n_series ({n_series})"
            )
        self.residual = residual
        self.adapter = None
        n_inputs = n_series
        if adapter_outputs is not None:
            self.adapter = _glorot(nn.Linear(n_series, adapter_outputs))
            n_inputs = adapter_outputs
        self.extractor = _make_extractor(extractor, n_inputs, units)
        self.dropout = nn.Dropout(dropout)
        self.embedding = None
        if embedding_size > 0:
            self.embedding = nn.Embedding(n_families, embedding_size)
            nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
        n_features = window * units + embedding_size
        if distribution == "quantile":
            self.heads = QuantileHeads(n_features, n_outputs, quantiles, center,
                                       output_activation, spread_activation)
        elif distribution == "gaussian":
            self.heads = GaussianHeads(n_features, n_outputs, output_activation,
                                       spread_activation)
        else:
            raise ValueError(
                f"distribution must be 'quantile' or 'gaussian', got {distribution!r}"
            )

    def forward(self, yields, family=None, return_attention=False, return_features=False):
        base = None
        if self.residual:
            base = yields[:, -1].repeat(1, self.heads.n_outputs // yields.shape[-1])
        x = yields if self.adapter is None else self.adapter(yields)
        sequence, attention = self.extractor(x)
        features = sequence.flatten(1)
        z = self.dropout(features)
        if self.embedding is not None:
            if family is None:
                family = torch.zeros(yields.shape[0], dtype=torch.long, device=yields.device)
            embedded = self.embedding(family)
            z = torch.cat([z, embedded], dim=-1)
            features = torch.cat([embedded, features], dim=-1)
        out = self.heads(z, base)
        if return_attention:
            return out, attention
        if return_features:
            return out, features
        return out
