"""LSTM encoder-decoder with Bahdanau-style (additive) attention over the input window.

The architecture of the attention model for Treasury yields (seed 000):

1. an encoder LSTM runs over the window and returns its hidden state at every position,
   ``E`` of shape (batch, window, units);
2. before each decoder step the attention network scores every position from
   ``[E_s, h_{t-1}]`` (the encoder output joined with the previous decoder state), through
   an optional dense layer (selu, LeCun-normal initialisation) and a dense layer to one
   score; a softmax over the window turns scores into weights ``alpha`` and the context
   is ``sum_s alpha_s E_s``;
3. a decoder LSTM cell takes the context and its previous state; a dense layer maps its
   new hidden state to the forecast of that step.

The decoder starts from zero states and takes one extra warm-up step whose output is
discarded, so the first scored attention already sees a non-zero decoder state (the seed's
own choice, kept here so the model is the seed's; trainable initial states would add
``2 * units`` parameters and give the first attention a state that does not depend on
the window). With ``shared_attention=False`` every decoder step, warm-up included, has
its own attention network, as in the seed's listing.
"""

import math

import torch
from torch import nn

from skyield.nn._lstm import DropoutLSTM, LSTMCell, keras_lstm_init_, recurrent_dropout_mask

__all__ = ["AdditiveAttention", "LSTMAttentionNet"]


def lecun_normal_(weight):
    """Keras' ``lecun_normal``: normal truncated at two standard deviations, variance
    ``1 / fan_in`` after truncation."""
    fan_in = weight.shape[1]
    std = math.sqrt(1.0 / fan_in) / 0.87962566103423978
    nn.init.trunc_normal_(weight, std=std, a=-2.0 * std, b=2.0 * std)


class AdditiveAttention(nn.Module):
    """Scores window positions from ``[encoder output, decoder state]`` and normalises them.

    Parameters
    ----------
    encoder_size : int
        Size of each encoder output ``E_s``.
    state_size : int
        Size of the decoder state ``h_{t-1}``.
    hidden : int, default=0
        Units of the optional intermediate dense layer (selu activation, LeCun-normal
        kernel); 0 goes straight from the joined inputs to the scores.

    Notes
    -----
    Parameters: ``(encoder_size + state_size + 1) * hidden + hidden + 1`` with the
    intermediate layer, ``encoder_size + state_size + 1`` without.

    Examples
    --------
    >>> import torch
    >>> from skyield.nn import AdditiveAttention
    >>> _ = torch.manual_seed(0)
    >>> attention = AdditiveAttention(4, 4, hidden=3)
    >>> alpha, context = attention(torch.randn(2, 52, 4), torch.zeros(2, 4))
    >>> alpha.shape, context.shape, bool(torch.allclose(alpha.sum(1), torch.ones(2)))
    (torch.Size([2, 52]), torch.Size([2, 4]), True)
    """

    def __init__(self, encoder_size, state_size, hidden=0):
        super().__init__()
        joined = encoder_size + state_size
        if hidden > 0:
            self.hidden = nn.Linear(joined, hidden)
            lecun_normal_(self.hidden.weight)
            nn.init.zeros_(self.hidden.bias)
            score_inputs = hidden
        else:
            self.hidden = None
            score_inputs = joined
        self.score = nn.Linear(score_inputs, 1)
        nn.init.xavier_uniform_(self.score.weight)
        nn.init.zeros_(self.score.bias)

    def forward(self, encoded, state):
        """Attention weights and context.

        Parameters
        ----------
        encoded : Tensor of shape (batch, window, encoder_size)
        state : Tensor of shape (batch, state_size)

        Returns
        -------
        alpha : Tensor of shape (batch, window)
            Softmax over the window; each row sums to one.
        context : Tensor of shape (batch, encoder_size)
        """
        repeated = state.unsqueeze(1).expand(-1, encoded.shape[1], -1)
        joined = torch.cat([encoded, repeated], dim=-1)
        if self.hidden is not None:
            joined = nn.functional.selu(self.hidden(joined))
        alpha = torch.softmax(self.score(joined).squeeze(-1), dim=1)
        context = torch.bmm(alpha.unsqueeze(1), encoded).squeeze(1)
        return alpha, context


class LSTMAttentionNet(nn.Module):
    """LSTM encoder, additive attention and LSTM decoder giving ``n_outputs`` forecast steps.

    Parameters
    ----------
    n_series : int
        Number of input series per window position (ten Treasury maturities in the seed).
    units : int, default=32
        Units of the encoder LSTM and of the decoder cell (equal, as in the seed).
    n_outputs : int, default=1
        Forecast steps (1 for week 53, 4 for weeks 53-56).
    n_targets : int, default=1
        Target series per step.
    attn_dense_nodes : int, default=0
        Units of the intermediate attention layer; 0 for none.
    shared_attention : bool, default=True
        One attention network for every decoder step, or one per step (``n_outputs + 1``
        networks, the warm-up step included).
    recurrent_dropout : float, default=0.0
        Variational recurrent dropout of the encoder and of the decoder cell (one mask
        for all time steps, also shared by all decoder steps); training mode only.
    recurrent_dropout_mode : {"batch", "sequence"}, default="batch"
        One mask per mini-batch (the encoder runs the fused ``torch.nn.LSTM`` kernel) or
        one per sequence (Keras' sampling, a step-by-step encoder); see
        :class:`~skyield.nn.DropoutLSTM`.

    Attributes
    ----------
    encoder : DropoutLSTM
    attention : ModuleList of AdditiveAttention
        One network when shared, else ``n_outputs + 1``.
    decoder : LSTMCell
    output : torch.nn.Linear
        Shared by every forecast step.

    Notes
    -----
    Input ``x`` of shape (batch, window, n_series); ``forward`` returns forecasts of shape
    (batch, n_outputs, n_targets), and with ``return_attention=True`` also the attention
    weights of the forecast steps, of shape (batch, n_outputs, window) (the warm-up step's
    weights are not returned).

    With ``U = units``, ``D = n_series``, ``a = attn_dense_nodes``, ``k = n_outputs`` and
    ``T = n_targets``, the number of parameters is::

        [4U(D + U) + 8U]      encoder LSTM
      + [4U(2U) + 8U]         decoder cell (its input is the U-dimensional context)
      + m * A                 attention, A = 2Ua + a + a + 1 (a > 0) or 2U + 1 (a = 0)
      + [UT + T]              output layer

    with ``m = 1`` when shared and ``m = k + 1`` otherwise. The LSTMs carry two bias
    vectors (PyTorch's layout), ``4U`` parameters more per LSTM than the seed's Keras model.

    References
    ----------
    Bahdanau, D., Cho, K. and Bengio, Y. (2014). Neural machine translation by jointly
    learning to align and translate. Seed 000: LSTM with attention on ten U.S. Treasury
    constant-maturity yields.

    Examples
    --------
    >>> import torch
    >>> from skyield.nn import LSTMAttentionNet
    >>> _ = torch.manual_seed(0)
    >>> net = LSTMAttentionNet(n_series=10, units=4, n_outputs=4, attn_dense_nodes=3)
    >>> y, alpha = net(torch.zeros(2, 52, 10), return_attention=True)
    >>> y.shape, alpha.shape
    (torch.Size([2, 4, 1]), torch.Size([2, 4, 52]))
    """

    def __init__(self, n_series, units=32, n_outputs=1, n_targets=1, attn_dense_nodes=0,
                 shared_attention=True, recurrent_dropout=0.0, recurrent_dropout_mode="batch"):
        super().__init__()
        self.units = units
        self.n_outputs = n_outputs
        self.n_targets = n_targets
        self.shared_attention = shared_attention
        self.recurrent_dropout = float(recurrent_dropout)
        self.recurrent_dropout_mode = recurrent_dropout_mode
        self.encoder = DropoutLSTM(n_series, units, recurrent_dropout=recurrent_dropout,
                                   recurrent_dropout_mode=recurrent_dropout_mode)
        n_networks = 1 if shared_attention else n_outputs + 1
        self.attention = nn.ModuleList(
            AdditiveAttention(units, units, hidden=attn_dense_nodes) for _ in range(n_networks)
        )
        self.decoder = LSTMCell(units, units)
        self.output = nn.Linear(units, n_targets)
        keras_lstm_init_(*self.encoder.layer_weights(0))
        keras_lstm_init_(self.decoder.weight_ih, self.decoder.weight_hh,
                         self.decoder.bias_ih, self.decoder.bias_hh)
        nn.init.xavier_uniform_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def forward(self, x, return_attention=False):
        """Forecast from windows ``x`` of shape (batch, window, n_series).

        Returns
        -------
        y : Tensor of shape (batch, n_outputs, n_targets)
        alpha : Tensor of shape (batch, n_outputs, window)
            Only with ``return_attention=True``.
        """
        encoded, _ = self.encoder(x)
        h = encoded.new_zeros(x.shape[0], self.units)
        c = torch.zeros_like(h)
        mask = recurrent_dropout_mask(h, self.recurrent_dropout, self.training,
                                      self.recurrent_dropout_mode)
        forecasts, weights = [], []
        for step in range(self.n_outputs + 1):
            attention = self.attention[0 if self.shared_attention else step]
            alpha, context = attention(encoded, h)
            h, c = self.decoder(context, (h, c), recurrent_mask=mask)
            if step > 0:
                forecasts.append(self.output(h))
                weights.append(alpha)
        y = torch.stack(forecasts, dim=1)
        if return_attention:
            return y, torch.stack(weights, dim=1)
        return y
