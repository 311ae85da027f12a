"""LSTM building blocks: one cell with the textbook gate equations, a multi-layer LSTM with
recurrent dropout, and the plain LSTM forecaster.

The gate equations are those of Hochreiter and Schmidhuber (1997) as written in chapter 7
of the LSTM notes (seed 003)::

    f_t = sigmoid(W_f [h_{t-1}, x_t] + b_f)        forget gate
    i_t = sigmoid(W_i [h_{t-1}, x_t] + b_i)        input gate
    g_t = tanh(W_c [h_{t-1}, x_t] + b_c)           candidate values
    c_t = f_t * c_{t-1} + i_t * g_t                cell state
    o_t = sigmoid(W_o [h_{t-1}, x_t] + b_o)        output gate
    h_t = o_t * tanh(c_t)                          hidden state

Parameters are stored in PyTorch's layout, so that a state dict moves freely between
these modules and ``torch.nn.LSTMCell`` / ``torch.nn.LSTM``: ``weight_ih`` (4H, D) and
``weight_hh`` (4H, H) stack the gates in the order (input, forget, candidate, output), and
there are two bias vectors ``bias_ih`` and ``bias_hh`` whose sum is the textbook ``b``.

Recurrent dropout is written here because ``torch.nn.LSTM`` has none: its ``dropout``
acts between stacked layers only. What is implemented is the variational recurrent
dropout of Gal and Ghahramani (2016) that Keras' ``LSTM(recurrent_dropout=p)`` applies:
during training, a Bernoulli mask per layer (scaled by ``1 / (1 - p)``) multiplies
``h_{t-1}`` where it enters the recurrent product ``W_hh h_{t-1}``; the same mask is used
for the four gates and at every time step, and the hidden state passed on is not
masked. Two ways of drawing the masks (``recurrent_dropout_mode``):

* ``"batch"`` (default): one mask per mini-batch, shared by its sequences. Masking
  ``h_{t-1}`` by a shared ``m`` is multiplying the columns of ``W_hh`` by ``m``, so the
  layer runs ``torch.nn.LSTM`` itself (the fused kernel; cuDNN on CUDA) on the masked
  weights, at the cost of training without dropout.
* ``"sequence"``: one mask per sequence, Keras' sampling. Every sequence then has
  recurrent weights of its own, which no fused kernel takes: the layer loops over the
  time steps in Python, several times slower.

Both train the same objective: each sequence sees a mask with the same distribution,
so the expected loss over the masks, and the expected gradient, are the same; sharing
the mask makes the sequences of a mini-batch see correlated noise, which raises the
variance of the stochastic gradient without changing its expectation. Outside training,
or with ``p = 0``, the layer runs ``torch.nn.LSTM`` on the unmasked weights.
"""

import math
from typing import NamedTuple

import torch
from torch import nn

__all__ = ["LSTMCell", "DropoutLSTM", "LSTMNet", "LSTMGates"]

#: How recurrent dropout masks are drawn: one per mini-batch, or one per sequence.
RECURRENT_DROPOUT_MODES = ("batch", "sequence")


class LSTMGates(NamedTuple):
    """Gate activations of one LSTM step, each of shape (batch, hidden_size)."""

    forget: torch.Tensor
    input: torch.Tensor
    candidate: torch.Tensor
    output: torch.Tensor
    cell: torch.Tensor
    hidden: torch.Tensor


def lstm_step(gates_x, h, c, weight_hh, bias_hh, recurrent_mask=None):
    """One LSTM step from the precomputed input projection ``gates_x = W_ih x + b_ih``.

    Returns
    -------
    gates : LSTMGates
    """
    h_rec = h if recurrent_mask is None else h * recurrent_mask
    pre = gates_x + nn.functional.linear(h_rec, weight_hh, bias_hh)
    i, f, g, o = pre.chunk(4, dim=-1)
    f, i, g, o = torch.sigmoid(f), torch.sigmoid(i), torch.tanh(g), torch.sigmoid(o)
    c_new = f * c + i * g
    h_new = o * torch.tanh(c_new)
    return LSTMGates(forget=f, input=i, candidate=g, output=o, cell=c_new, hidden=h_new)


def recurrent_dropout_mask(reference, p, training, mode="sequence"):
    """Variational dropout mask for a state like ``reference`` (None when inactive).

    Parameters
    ----------
    reference : Tensor of shape (batch, hidden_size)
    p : float
        Dropout probability.
    training : bool
    mode : {"batch", "sequence"}, default="sequence"
        One mask of shape (1, hidden_size) shared by the batch, or one per row.

    Returns
    -------
    Tensor of shape (1 or batch, hidden_size), entries 0 or ``1 / (1 - p)``; or None.
    """
    if not training or p <= 0.0:
        return None
    keep = 1.0 - p
    shape = reference[:1] if mode == "batch" else reference
    return torch.bernoulli(torch.full_like(shape, keep)) / keep


def check_recurrent_dropout_mode(mode):
    """Raise a ValueError naming the valid modes unless ``mode`` is one of them."""
    if mode not in RECURRENT_DROPOUT_MODES:
        raise ValueError(
            f"recurrent_dropout_mode must be one of {RECURRENT_DROPOUT_MODES}; got {mode!r}."
        )


def keras_lstm_init_(weight_ih, weight_hh, bias_ih, bias_hh):
    """Initialise LSTM weights in place as Keras' ``LSTM`` does by default.

    Glorot-uniform input kernel, orthogonal recurrent kernel (per gate block layout of
    Keras: one orthogonal (H, 4H) matrix), zero biases except a forget-gate bias of 1
    (``unit_forget_bias=True``), carried by ``bias_ih``.
    """
    hidden = weight_hh.shape[1]
    with torch.no_grad():
        nn.init.xavier_uniform_(weight_ih)
        # Keras draws one orthogonal matrix of shape (H, 4H); torch stores its transpose.
        recurrent = torch.empty(hidden, 4 * hidden, dtype=weight_hh.dtype,
                                device=weight_hh.device)
        nn.init.orthogonal_(recurrent)
        weight_hh.copy_(recurrent.T)
        bias_ih.zero_()
        bias_hh.zero_()
        bias_ih[hidden:2 * hidden] = 1.0


class LSTMCell(nn.Module):
    """One LSTM cell with the standard gate equations and optional recurrent dropout.

    Equal to ``torch.nn.LSTMCell`` given the same weights (same parameter names and
    layout), plus a ``recurrent_mask`` argument and access to the gate values.

    Parameters
    ----------
    input_size : int
        Size D of the input ``x_t``.
    hidden_size : int
        Size H of the hidden and cell states.

    Attributes
    ----------
    weight_ih : Parameter of shape (4 * hidden_size, input_size)
        Input kernels of the (input, forget, candidate, output) gates, stacked.
    weight_hh : Parameter of shape (4 * hidden_size, hidden_size)
        Recurrent kernels, same gate order.
    bias_ih, bias_hh : Parameter of shape (4 * hidden_size,)
        Biases; the textbook bias ``b`` is ``bias_ih + bias_hh``.

    References
    ----------
    Hochreiter, S. and Schmidhuber, J. (1997). Long short-term memory. Neural Computation
    9(8), 1735-1780. Chapter 7 of the LSTM notes (seed 003), exercise 7.1.

    Examples
    --------
    >>> import torch
    >>> from skyield.nn import LSTMCell
    >>> _ = torch.manual_seed(0)
    >>> cell = LSTMCell(input_size=3, hidden_size=2)
    >>> h, c = cell(torch.zeros(5, 3))
    >>> h.shape, c.shape
    (torch.Size([5, 2]), torch.Size([5, 2]))
    """

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size))
        self.reset_parameters()

    def reset_parameters(self):
        """Uniform(-1/sqrt(H), 1/sqrt(H)) initialisation, as ``torch.nn.LSTMCell``."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def gates(self, x, state=None, recurrent_mask=None):
        """Gate values, new cell state and new hidden state of one step.

        Parameters
        ----------
        x : Tensor of shape (batch, input_size)
        state : tuple of two Tensors of shape (batch, hidden_size), default=None
            ``(h_{t-1}, c_{t-1})``; zeros when None.
        recurrent_mask : Tensor of shape (batch, hidden_size), default=None
            Multiplies ``h_{t-1}`` inside the recurrent product (recurrent dropout).

        Returns
        -------
        gates : LSTMGates
        """
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            state = (zeros, zeros)
        h, c = state
        gates_x = nn.functional.linear(x, self.weight_ih, self.bias_ih)
        return lstm_step(gates_x, h, c, self.weight_hh, self.bias_hh, recurrent_mask)

    def forward(self, x, state=None, recurrent_mask=None):
        """Advance one step.

        Parameters
        ----------
        x : Tensor of shape (batch, input_size)
        state : tuple of two Tensors of shape (batch, hidden_size), default=None
        recurrent_mask : Tensor of shape (batch, hidden_size), default=None

        Returns
        -------
        h, c : Tensors of shape (batch, hidden_size)
        """
        step = self.gates(x, state, recurrent_mask)
        return step.hidden, step.cell


class DropoutLSTM(nn.Module):
    """Multi-layer LSTM over a batch of sequences, with variational recurrent dropout.

    Parameters
    ----------
    input_size : int
        Number of input series D.
    hidden_size : int
        Units H of every layer.
    num_layers : int, default=1
        Number of stacked layers.
    recurrent_dropout : float, default=0.0
        Probability of dropping a unit of ``h_{t-1}`` in the recurrent product, with one
        mask per layer for all time steps (Keras' ``recurrent_dropout``). Active in
        training mode only.
    recurrent_dropout_mode : {"batch", "sequence"}, default="batch"
        ``"batch"``: one mask per mini-batch, applied to the columns of ``W_hh``, so the
        fused ``torch.nn.LSTM`` kernel runs; ``"sequence"``: one mask per sequence, as
        Keras draws them, in a step-by-step loop. Same training objective (see the
        module notes).

    Attributes
    ----------
    rnn : torch.nn.LSTM
        Holds the weights (``batch_first=True``) and runs the sequence when no recurrent
        dropout is active.

    Examples
    --------
    >>> import torch
    >>> from skyield.nn import DropoutLSTM
    >>> _ = torch.manual_seed(0)
    >>> lstm = DropoutLSTM(3, 4, num_layers=2, recurrent_dropout=0.1)
    >>> out, (h, c) = lstm(torch.zeros(5, 52, 3))
    >>> out.shape, h.shape
    (torch.Size([5, 52, 4]), torch.Size([2, 5, 4]))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, recurrent_dropout=0.0,
                 recurrent_dropout_mode="batch"):
        super().__init__()
        check_recurrent_dropout_mode(recurrent_dropout_mode)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.recurrent_dropout = float(recurrent_dropout)
        self.recurrent_dropout_mode = recurrent_dropout_mode
        self.rnn = nn.LSTM(input_size, hidden_size, num_layers=num_layers, batch_first=True)

    def layer_weights(self, layer):
        """``(weight_ih, weight_hh, bias_ih, bias_hh)`` of layer ``layer``."""
        return tuple(getattr(self.rnn, f"{name}_l{layer}")
                     for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def forward(self, x, state=None):
        """Run the layers over the sequences.

        Parameters
        ----------
        x : Tensor of shape (batch, time, input_size)
        state : tuple of two Tensors of shape (num_layers, batch, hidden_size), default=None
            Initial ``(h_0, c_0)``; zeros when None.

        Returns
        -------
        output : Tensor of shape (batch, time, hidden_size)
            Hidden states of the last layer at every step.
        (h_n, c_n) : tuple of two Tensors of shape (num_layers, batch, hidden_size)
        """
        if not self.training or self.recurrent_dropout <= 0.0:
            return self.rnn(x, state)
        if self.recurrent_dropout_mode == "batch":
            masked = {}
            for layer in range(self.num_layers):
                weight_hh = self.layer_weights(layer)[1]
                mask = recurrent_dropout_mask(weight_hh[:1], self.recurrent_dropout, True, "batch")
                masked[f"weight_hh_l{layer}"] = weight_hh * mask
            return torch.func.functional_call(self.rnn, masked, (x, state))
        batch = x.shape[0]
        if state is None:
            zeros = x.new_zeros(self.num_layers, batch, self.hidden_size)
            state = (zeros, zeros)
        h_last, c_last = [], []
        sequence = x
        for layer in range(self.num_layers):
            weight_ih, weight_hh, bias_ih, bias_hh = self.layer_weights(layer)
            h, c = state[0][layer], state[1][layer]
            mask = recurrent_dropout_mask(h, self.recurrent_dropout, True)
            # The input projection of all steps at once; only the recurrence loops.
            gates_x = nn.functional.linear(sequence, weight_ih, bias_ih)
            outputs = []
            for t in range(sequence.shape[1]):
                step = lstm_step(gates_x[:, t], h, c, weight_hh, bias_hh, mask)
                h, c = step.hidden, step.cell
                outputs.append(h)
            sequence = torch.stack(outputs, dim=1)
            h_last.append(h)
            c_last.append(c)
        return sequence, (torch.stack(h_last), torch.stack(c_last))


class LSTMNet(nn.Module):
    """Plain LSTM forecaster: stacked LSTM over the window, dense head on the last state.

    Parameters
    ----------
    n_series : int
        Number of input series per window position.
    units : int, default=32
        Units of every LSTM layer.
    num_layers : int, default=1
        Stacked LSTM layers.
    n_outputs : int, default=1
        Forecast steps.
    n_targets : int, default=1
        Target series per step.
    recurrent_dropout : float, default=0.0
        See :class:`DropoutLSTM`.
    recurrent_dropout_mode : {"batch", "sequence"}, default="batch"
        See :class:`DropoutLSTM`.

    Notes
    -----
    Input ``x`` of shape (batch, window, n_series); output of shape
    (batch, n_outputs, n_targets): all steps come from one linear map of the last hidden
    state (a direct multi-step forecast).

    Examples
    --------
    >>> import torch
    >>> from skyield.nn import LSTMNet
    >>> _ = torch.manual_seed(0)
    >>> net = LSTMNet(n_series=10, units=4, n_outputs=4)
    >>> net(torch.zeros(2, 52, 10)).shape
    torch.Size([2, 4, 1])
    """

    def __init__(self, n_series, units=32, num_layers=1, n_outputs=1, n_targets=1,
                 recurrent_dropout=0.0, recurrent_dropout_mode="batch"):
        super().__init__()
        self.n_outputs = n_outputs
        self.n_targets = n_targets
        self.encoder = DropoutLSTM(n_series, units, num_layers=num_layers,
                                   recurrent_dropout=recurrent_dropout,
                                   recurrent_dropout_mode=recurrent_dropout_mode)
        self.output = nn.Linear(units, n_outputs * n_targets)
        for layer in range(num_layers):
            keras_lstm_init_(*self.encoder.layer_weights(layer))
        nn.init.xavier_uniform_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def forward(self, x):
        """Forecast from windows ``x`` of shape (batch, window, n_series)."""
        sequence, _ = self.encoder(x)
        out = self.output(sequence[:, -1])
        return out.view(x.shape[0], self.n_outputs, self.n_targets)
