"""Modules of the Encoder-Encoder Transformer for one dynamic factor (seed 002).

The data flow of one P-lag window ``Y_t`` of ``k`` series (Snellman, sections 2.1-2.7):

1. every value ``y_{i,t-p}`` is a token; the window, flattened in time order (``vec(Y_t')``,
   all ``k`` variables of the oldest date first), is embedded by one shared linear map
   ``W_Embed`` plus ``gamma`` times a learned positional encoding (one per lag, shared by
   the variables) and a learned variable encoding (one per variable), eq. (2);
2. an initial factor series (one number per lag) is embedded with the same ``W_Embed``,
   the same positional encodings and the factor's own variable encoding, eq. (3);
3. an initial self-attention Encoder refines the data tokens, eq. (4);
4. a stack of State Encoders lets the factor query the data (cross-attention), eqs. (5)-(15);
   ``W_factor`` maps every lag's representation to one number, the factor estimate (16);
5. the factor estimate is re-embedded (17) and a stack of Measurement Encoders lets the
   data query the factor, with no residual skip around that attention (25), then predicts
   every token's next value (29); the last ``k`` predictions are ``y_{t+1}``.

All layers are pre-norm. Attention projections carry no biases (the paper's choice, as the
following layer normalisation removes them), nor do ``W_Embed``, ``W_factor`` and
``W_predict``; with the defaults of Table 4 the network has 25,952 parameters (the paper's
"26k"). ``torch.nn.MultiheadAttention`` ties the head size to ``d_model / n_heads`` and has
no bias-free output projection with separate key size, so the attention is written here.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "FactorTransformerLoss",
    "FactorTransformerNet",
    "InitialEncoderLayer",
    "MeasurementEncoderLayer",
    "MultiHeadAttention",
    "StateEncoderLayer",
    "TokenEmbedding",
]


def _glorot_(module):
    """Glorot-uniform weights and zero biases for every linear layer (section 3.3)."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class MultiHeadAttention(nn.Module):
    """Multi-head scaled dot-product attention without projection biases (eqs. 7-11).

    Parameters
    ----------
    d_model : int
        Size of the token representations.
    n_heads : int
        Number of heads ``h``.
    d_k : int
        Size of each head's queries, keys and values.

    Examples
    --------
    >>> import torch
    >>> from skyield.nn import MultiHeadAttention
    >>> _ = torch.manual_seed(0)
    >>> attention = MultiHeadAttention(8, n_heads=2, d_k=4)
    >>> out, weights = attention(torch.randn(3, 5, 8), torch.randn(3, 10, 8))
    >>> out.shape, weights.shape
    (torch.Size([3, 5, 8]), torch.Size([3, 2, 5, 10]))
    """

    def __init__(self, d_model, n_heads, d_k):
        super().__init__()
        self.n_heads = n_heads
        self.d_k = d_k
        self.query = nn.Linear(d_model, n_heads * d_k, bias=False)
        self.key = nn.Linear(d_model, n_heads * d_k, bias=False)
        self.value = nn.Linear(d_model, n_heads * d_k, bias=False)
        self.output = nn.Linear(n_heads * d_k, d_model, bias=False)

    def _split(self, x):
        batch, length, _ = x.shape
        return x.view(batch, length, self.n_heads, self.d_k).transpose(1, 2)

    def forward(self, query, key_value):
        """Attend from ``query`` tokens to ``key_value`` tokens.

        Parameters
        ----------
        query : Tensor of shape (batch, n_query, d_model)
        key_value : Tensor of shape (batch, n_key, d_model)

        Returns
        -------
        out : Tensor of shape (batch, n_query, d_model)
            ``Concatenate(head_1, ..., head_h) W^O``.
        weights : Tensor of shape (batch, n_heads, n_query, n_key)
            Attention scores; every row sums to one.
        """
        q = self._split(self.query(query))
        k = self._split(self.key(key_value))
        v = self._split(self.value(key_value))
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.d_k), dim=-1)
        heads = (weights @ v).transpose(1, 2).reshape(query.shape[0], query.shape[1], -1)
        return self.output(heads), weights


class _FeedForward(nn.Module):
    def __init__(self, d_model, d_ff):
        super().__init__()
        self.expand = nn.Linear(d_model, d_ff)
        self.contract = nn.Linear(d_ff, d_model)

    def forward(self, x):
        return self.contract(F.gelu(self.expand(x)))


class TokenEmbedding(nn.Module):
    """Value embedding with positional and variable encodings (eqs. 1-3 and 17).

    Parameters
    ----------
    n_series : int
        Number of observed variables ``k``.
    window : int
        Number of lags ``P``.
    d_model : int
        Size of the representations.
    encoding_scale : float
        ``gamma`` of eq. (2): the weight of the encodings against the value embedding.

    Attributes
    ----------
    value : torch.nn.Linear
        ``W_Embed``, a bias-free map from one number to ``d_model`` features.
    positional : Parameter of shape (window, d_model)
        One encoding per lag; row ``p`` belongs to position ``p`` of the window (row
        ``window - 1`` is the most recent date).
    variable : Parameter of shape (n_series + 1, d_model)
        One encoding per variable; the last row is the factor's.

    Examples
    --------
    >>> import torch
    >>> from skyield.nn import TokenEmbedding
    >>> embedding = TokenEmbedding(n_series=5, window=9, d_model=8, encoding_scale=0.1)
    >>> embedding.embed_data(torch.randn(2, 9, 5)).shape
    torch.Size([2, 45, 8])
    >>> embedding.embed_factor(torch.randn(2, 9)).shape
    torch.Size([2, 9, 8])
    """

    def __init__(self, n_series, window, d_model, encoding_scale):
        super().__init__()
        self.n_series = n_series
        self.window = window
        self.encoding_scale = encoding_scale
        self.value = nn.Linear(1, d_model, bias=False)
        self.positional = nn.Parameter(torch.empty(window, d_model))
        self.variable = nn.Parameter(torch.empty(n_series + 1, d_model))
        nn.init.normal_(self.positional)
        nn.init.normal_(self.variable)

    def data_encoding(self):
        """``PE_y + VE_y`` of shape (window * n_series, d_model), in token order."""
        positional = self.positional.repeat_interleave(self.n_series, dim=0)
        variable = self.variable[:self.n_series].repeat(self.window, 1)
        return positional + variable

    def embed_data(self, Y):
        """Embed windows ``Y`` (batch, window, n_series) into (batch, window * n_series, d_model)."""
        tokens = Y.reshape(Y.shape[0], -1, 1)
        return self.value(tokens) + self.encoding_scale * self.data_encoding()

    def embed_factor(self, x):
        """Embed factor series ``x`` of shape (batch, window) into (batch, window, d_model)."""
        encoding = self.positional + self.variable[self.n_series]
        return self.value(x[..., None]) + self.encoding_scale * encoding


class InitialEncoderLayer(nn.Module):
    """Pre-norm self-attention Encoder over the data tokens (eq. 4).

    Parameters
    ----------
    d_model, n_heads, d_k, d_ff : int
        Representation size, heads, head size and feed-forward size.
    dropout : float
        Dropout on the attention and feed-forward outputs before the residual sums.
    """

    def __init__(self, d_model, n_heads, d_k, d_ff, dropout):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attention = MultiHeadAttention(d_model, n_heads, d_k)
        self.norm2 = nn.LayerNorm(d_model)
        self.feed_forward = _FeedForward(d_model, d_ff)
        self.dropout = nn.Dropout(dropout)

    def forward(self, Y):
        """Refine tokens ``Y`` of shape (batch, n_tokens, d_model); returns them and the
        attention weights of shape (batch, n_heads, n_tokens, n_tokens)."""
        normed = self.norm1(Y)
        attended, weights = self.attention(normed, normed)
        Y = Y + self.dropout(attended)
        Y = Y + self.dropout(self.feed_forward(self.norm2(Y)))
        return Y, weights


class StateEncoderLayer(nn.Module):
    """State Encoder: the factor queries the data, with residual skips (eqs. 5-15).

    Parameters
    ----------
    d_model, n_heads, d_k, d_ff : int
        Representation size, heads, head size and feed-forward size.
    dropout : float
        Dropout on the attention and feed-forward outputs before the residual sums.
    """

    def __init__(self, d_model, n_heads, d_k, d_ff, dropout):
        super().__init__()
        self.norm1_x = nn.LayerNorm(d_model)
        self.norm1_y = nn.LayerNorm(d_model)
        self.attention = MultiHeadAttention(d_model, n_heads, d_k)
        self.norm2 = nn.LayerNorm(d_model)
        self.feed_forward = _FeedForward(d_model, d_ff)
        self.dropout = nn.Dropout(dropout)

    def forward(self, X, Y):
        """Refine the factor representations.

        Parameters
        ----------
        X : Tensor of shape (batch, window, d_model)
            Factor representations (``X_init`` for the first layer).
        Y : Tensor of shape (batch, window * n_series, d_model)
            Data tokens from the initial Encoder.

        Returns
        -------
        X5 : Tensor of shape (batch, window, d_model)
        weights : Tensor of shape (batch, n_heads, window, window * n_series)
        stream : dict of Tensor of shape (batch, window, d_model)
            The residual stream of Table 1: ``"Norm1"`` (X0, eq. 5), ``"Attn"`` (X2, eq. 12),
            ``"Norm2"`` (X3, eq. 13) and ``"FFN"`` (X5, eq. 15).
        """
        X0 = self.norm1_x(X)
        X1, weights = self.attention(X0, self.norm1_y(Y))
        X2 = X + self.dropout(X1)
        X3 = self.norm2(X2)
        X5 = X2 + self.dropout(self.feed_forward(X3))
        return X5, weights, {"Norm1": X0, "Attn": X2, "Norm2": X3, "FFN": X5}


class MeasurementEncoderLayer(nn.Module):
    """Measurement Encoder: the data query the factor, no skip around attention (eqs. 18-28).

    Parameters
    ----------
    d_model, n_heads, d_k, d_ff : int
        Representation size, heads, head size and feed-forward size.
    dropout : float
        Dropout on the attention and feed-forward outputs.
    """

    def __init__(self, d_model, n_heads, d_k, d_ff, dropout):
        super().__init__()
        self.norm1_y = nn.LayerNorm(d_model)
        self.norm1_x = nn.LayerNorm(d_model)
        self.attention = MultiHeadAttention(d_model, n_heads, d_k)
        self.norm2 = nn.LayerNorm(d_model)
        self.feed_forward = _FeedForward(d_model, d_ff)
        self.dropout = nn.Dropout(dropout)

    def forward(self, Y, X):
        """Predict from the factor.

        Parameters
        ----------
        Y : Tensor of shape (batch, window * n_series, d_model)
            Data tokens (the initial Encoder's output, or the previous layer's).
        X : Tensor of shape (batch, window, d_model)
            Re-embedded factor estimate ``X_hat`` (eq. 17).

        Returns
        -------
        Y5 : Tensor of shape (batch, window * n_series, d_model)
        weights : Tensor of shape (batch, n_heads, window * n_series, window)
        """
        Y1, weights = self.attention(self.norm1_y(Y), self.norm1_x(X))
        # No residual skip (eq. 25): the data reach the predictions only through the factor.
        Y2 = self.dropout(Y1)
        Y5 = Y2 + self.dropout(self.feed_forward(self.norm2(Y2)))
        return Y5, weights


class FactorTransformerNet(nn.Module):
    """Encoder-Encoder Transformer estimating one dynamic factor from P-lag windows.

    Parameters
    ----------
    n_series : int
        Number of observed variables ``k``.
    window : int
        Number of lags ``P`` per window.
    d_model : int, default=32
        Size of the token representations.
    n_heads : int, default=4
        Attention heads.
    d_k : int, default=8
        Size of each head's queries, keys and values.
    d_ff : int, default=64
        Hidden size of the GELU feed-forward networks.
    n_initial_layers : int, default=1
        Self-attention Encoders over the data tokens (eq. 4).
    n_state_layers : int, default=1
        State Encoders ``H`` (eqs. 5-15).
    n_measurement_layers : int, default=1
        Measurement Encoders (eqs. 18-28).
    dropout : float, default=0.15
        Dropout before every residual sum (and on the Measurement attention output).
    encoding_scale : float, default=0.5
        ``gamma`` of eq. (2).

    Notes
    -----
    Input windows are ordered oldest date first, so position ``window - 1`` is date ``t``
    and the last ``n_series`` tokens are the values at ``t``.

    References
    ----------
    Snellman, "Nonlinear Dynamic Factor Analysis With a Transformer Network", sections
    2.1-2.6 and Figure 1.

    Examples
    --------
    >>> import torch
    >>> from skyield.nn import FactorTransformerNet
    >>> _ = torch.manual_seed(0)
    >>> net = FactorTransformerNet(n_series=5, window=9)
    >>> factor, prediction = net(torch.randn(4, 9, 5))
    >>> factor.shape, prediction.shape
    (torch.Size([4, 9]), torch.Size([4, 5]))
    >>> sum(p.numel() for p in net.parameters())
    25952
    """

    def __init__(self, n_series, window, d_model=32, n_heads=4, d_k=8, d_ff=64,
                 n_initial_layers=1, n_state_layers=1, n_measurement_layers=1,
                 dropout=0.15, encoding_scale=0.5):
        super().__init__()
        self.n_series = n_series
        self.window = window
        layer_args = (d_model, n_heads, d_k, d_ff, dropout)
        self.embedding = TokenEmbedding(n_series, window, d_model, encoding_scale)
        self.initial_layers = nn.ModuleList(
            InitialEncoderLayer(*layer_args) for _ in range(n_initial_layers))
        self.state_layers = nn.ModuleList(
            StateEncoderLayer(*layer_args) for _ in range(n_state_layers))
        self.factor_projection = nn.Linear(d_model, 1, bias=False)
        self.measurement_layers = nn.ModuleList(
            MeasurementEncoderLayer(*layer_args) for _ in range(n_measurement_layers))
        self.prediction_projection = nn.Linear(d_model, 1, bias=False)
        _glorot_(self)

    def forward(self, Y, x_init=None, details=False):
        """Estimate the factor over each window and predict the next date.

        Parameters
        ----------
        Y : Tensor of shape (batch, window, n_series)
            Windows of standardised data, oldest date first.
        x_init : Tensor of shape (batch, window), default=None
            Initial factor series (eq. 3); None uses the mean over the variables of ``Y``.
        details : bool, default=False
            Also return the attention scores, every prediction and the residual stream.

        Returns
        -------
        factor : Tensor of shape (batch, window)
            Factor estimate ``x_hat_t`` at every lag (eq. 16); the last column is date ``t``.
        prediction : Tensor of shape (batch, n_series)
            Predictions of the values at ``t + 1`` (the last ``n_series`` outputs of eq. 29).
        details : dict
            Only with ``details=True``: ``"state_attention"`` (list over State Encoders of
            tensors of shape (batch, n_heads, window, window * n_series)),
            ``"measurement_attention"`` (list over Measurement Encoders of shape (batch,
            n_heads, window * n_series, window)), ``"predictions"`` (batch, window *
            n_series) and ``"stream"`` (dict of (batch, window) tensors: ``"Embed"`` and,
            for each State Encoder ``j``, ``"Norm1"``, ``"Attn"``, ``"Norm2"``, ``"FFN"``,
            suffixed ``"_j"`` when there are several, each mapped through ``W_factor``).
        """
        if x_init is None:
            x_init = Y.mean(dim=-1)
        tokens = self.embedding.embed_data(Y)
        for layer in self.initial_layers:
            tokens, _ = layer(tokens)
        X = self.embedding.embed_factor(x_init)
        project = self.factor_projection
        stream = {"Embed": project(X)[..., 0]} if details else None
        state_attention = []
        for j, layer in enumerate(self.state_layers):
            X, weights, layer_stream = layer(X, tokens)
            state_attention.append(weights)
            if details:
                suffix = f"_{j + 1}" if len(self.state_layers) > 1 else ""
                stream.update({name + suffix: project(value)[..., 0]
                               for name, value in layer_stream.items()})
        factor = project(X)[..., 0]
        X_hat = self.embedding.embed_factor(factor)
        measurement_attention = []
        for layer in self.measurement_layers:
            tokens, weights = layer(tokens, X_hat)
            measurement_attention.append(weights)
        predictions = self.prediction_projection(tokens)[..., 0]
        prediction = predictions[:, -self.n_series:]
        if not details:
            return factor, prediction
        return factor, prediction, {
            "state_attention": state_attention,
            "measurement_attention": measurement_attention,
            "predictions": predictions,
            "stream": stream,
        }


class FactorTransformerLoss(nn.Module):
    """Prior-information regularised MAE of eqs. (30)-(32).

    ``loss = prior_weight * mean_p |x_hat_{t-p} - x_prior_{t-p}|
    + (1 - prior_weight) * mean_i |y_hat_{t+1,i} - y_{t+1,i}|``, averaged over the batch.
    In evaluation mode (skorch's validation step) only the prediction error is returned:
    early stopping monitors prediction errors, as in the paper's Figures 42-43. With
    ``prior_weight=1`` the prediction error is not trained at all, so evaluation returns
    the prior term instead.

    Parameters
    ----------
    n_series : int
        Number of observed variables ``k``: the first ``k`` columns of the target.
    prior_weight : float, default=0.6
        ``lambda`` in [0, 1].

    Notes
    -----
    The target packs ``[y_{t+1} (k columns), prior factor over the window (P columns)]``.
    Missing prior values (NaN) are left out of the prior term.

    Examples
    --------
    >>> import torch
    >>> from skyield.nn import FactorTransformerLoss
    >>> loss = FactorTransformerLoss(n_series=2, prior_weight=0.5)
    >>> factor, prediction = torch.zeros(1, 3), torch.zeros(1, 2)
    >>> target = torch.tensor([[1.0, 1.0, 2.0, 2.0, 2.0]])
    >>> float(loss((factor, prediction), target))
    1.5
    """

    def __init__(self, n_series, prior_weight=0.6):
        super().__init__()
        self.n_series = n_series
        self.prior_weight = prior_weight

    def components(self, y_pred, y_true):
        """Return the prior-information term (eq. 31) and prediction error (eq. 32)."""
        factor, prediction = y_pred[0], y_pred[1]
        target = y_true[:, :self.n_series]
        prior = y_true[:, self.n_series:]
        prediction_error = (prediction - target).abs().mean()
        observed = torch.isfinite(prior)
        gaps = torch.where(observed, (factor - torch.nan_to_num(prior)).abs(),
                           torch.zeros_like(factor))
        counts = observed.sum(dim=1).clamp(min=1)
        prior_error = (gaps.sum(dim=1) / counts).mean()
        return prior_error, prediction_error

    def forward(self, y_pred, y_true):
        """Loss of a batch; ``y_pred`` is the ``(factor, prediction)`` pair of the net."""
        prior_error, prediction_error = self.components(y_pred, y_true)
        if not self.training:
            return prior_error if self.prior_weight == 1 else prediction_error
        return self.prior_weight * prior_error + (1.0 - self.prior_weight) * prediction_error
