"""LSTM with additive attention over the input window, as a scikit-learn regressor."""

from numbers import Integral

from skyield.base import DEFAULT_QUANTILES
from skyield.models._base import _WindowNetRegressor
from skyield.nn import LSTMAttentionNet
from skyield.utils import Interval

__all__ = ["LSTMAttentionRegressor"]


class LSTMAttentionRegressor(_WindowNetRegressor):
    """LSTM encoder-decoder with attention over the window (the Treasury attention model).

    An encoder LSTM reads each window of all series; for each of the ``n_horizons``
    forecast steps an attention network scores every window position from the encoder
    output joined with the previous decoder state, a softmax over the window gives the
    attention weights, and a decoder LSTM cell fed with the attention-weighted context
    produces the step's forecast through a dense layer. The decoder takes one unscored
    warm-up step first (see :class:`skyield.nn.LSTMAttentionNet`). Trained with Adam on
    the squared error by default, in float32, through a skorch ``NeuralNet``.

    Parameters
    ----------
    window : int, default=None
        Dates per window; required to read a 2-D ``X`` (each row a window flattened in
        time-major order). 3-D ``X`` carries its own.
    horizons : int or list of int, default=None
        Steps ahead held by the horizon axis of ``y``; None means ``1 .. n_horizons``.
        With more than one horizon, ``y`` of shape (n_samples, n_horizons) is read as the
        horizons of one target (the seed's layout, e.g. weeks 53-56 of the 10-year
        yield).
    targets : int, list of int or None, default=None
        Position of each target series among the input series. Needed with
        ``differences=True`` (to restore levels) unless every series is a target, in
        order; checked but otherwise unused with ``differences=False``.
    differences : bool, default=False
        Work in changes: the network sees the ``window - 1`` first differences inside each
        window and forecasts the change of each target since the window's last date;
        forecasts, quantiles and intervals are returned in levels. ``X`` and ``y`` stay
        in levels.
    standardize : bool, default=True
        Standardise the network's inputs per series and its targets per step and target,
        with means and standard deviations of the training windows (without the
        validation tail of early stopping).
    units : int, default=32
        Units of the encoder LSTM and of the decoder cell.
    attn_dense_nodes : int, default=0
        Units of the intermediate attention layer (selu, LeCun-normal initialisation);
        0 for none.
    shared_attention : bool, default=True
        One attention network for all steps, or one per step (``n_horizons + 1``, the
        warm-up step included).
    weight_decay : float, default=2e-5
        Adam's (coupled) weight decay on every weight and bias: the gradient of the L2
        penalty ``(weight_decay / 2) * sum(w ** 2)``, i.e. Keras' ``l2(weight_decay / 2)``
        (the seed's ``l2(1e-5)`` is ``weight_decay=2e-5``).
    recurrent_dropout : float, default=0.1
        Variational recurrent dropout of the encoder and the decoder (Keras'
        ``recurrent_dropout``).
    recurrent_dropout_mode : {"batch", "sequence"}, default="batch"
        ``"batch"``: one dropout mask per mini-batch, shared by its windows, so that the
        encoder runs the fused LSTM kernel (training costs about as much as without
        dropout); ``"sequence"``: one mask per window, as Keras draws them, in a
        step-by-step encoder (several times slower). Both train the same expected loss;
        see :class:`skyield.nn.DropoutLSTM`.
    loss : {"squared_error", "absolute_error", "huber"}, default="squared_error"
        Training loss of the point forecast (``distribution="empirical"``).
    distribution : {"empirical", "quantile", "gaussian"}, default="empirical"
        Predictive distribution: the point network with the empirical distribution of
        its forecast errors (on the validation tail with early stopping, else on the
        training windows); non-crossing quantile heads at ``quantiles`` (pinball loss,
        median centre); or Gaussian heads (mean and standard deviation, Gaussian
        negative log-likelihood).
    quantiles : tuple of float, default=(0.025, 0.5, 0.975)
        Levels of the quantile heads (``distribution="quantile"``); ``predict_quantiles``
        interpolates between them and refuses levels outside their range.
    epochs : int, default=100
        Maximum number of passes over the training windows.
    batch_size : int, default=32
        Mini-batch size; training batches are shuffled.
    lr : float, default=1e-3
        Adam's learning rate.
    early_stopping : bool, default=False
        Hold out the most recent ``validation_fraction`` of the windows (after
        ``validation_gap`` windows) and stop when their loss has not improved for
        ``patience`` epochs, restoring the best weights.
    validation_fraction : float, default=0.1
        Share of windows in the validation tail (with early stopping only).
    validation_gap : int, default=0
        Windows dropped between the training rows and the validation tail.
    patience : int, default=10
        Epochs without improvement before stopping.
    device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"
        Device to train on; ``"auto"`` picks CUDA when available.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, dropout masks and batch shuffling. A fixed value gives
        bit-identical predictions on the CPU.
    verbose : int, default=0
        skorch's epoch log when positive.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The fitted net.
    n_features_in_ : int
        Number of features (second axis of ``X``) seen in ``fit``.
    n_series_in_ : int
        Number of series per window position.
    window_ : int
        Window length seen in ``fit``.
    horizons_ : ndarray of shape (n_horizons,)
        Steps ahead of each horizon of ``y``.
    targets_ : ndarray of shape (n_targets,) or None
        Position of each target among the inputs, when known.
    input_mean_, input_scale_ : ndarray of shape (1, 1, n_series)
        Standardisation of the network's inputs.
    target_mean_, target_scale_ : ndarray of shape (1, n_horizons, n_targets)
        Standardisation of the network's targets.
    residuals_ : ndarray of shape (n_errors, n_horizons, n_targets)
        Forecast errors behind the quantiles of ``distribution="empirical"``.
    n_epochs_ : int
        Epochs run (fewer than ``epochs`` after early stopping).

    See Also
    --------
    LSTMRegressor : The same interface without attention.

    Notes
    -----
    :meth:`get_attention` returns the weights of shape (n_samples, n_horizons, n_lags),
    where ``n_lags`` is ``window`` (``window - 1`` with ``differences=True``); column
    ``j`` is lag ``n_lags - 1 - j`` (the last column is the window's last date).

    References
    ----------
    Seed 000: an LSTM with an attention network applied to ten U.S. Treasury
    constant-maturity yields, weekly 1993-2018, 52-week windows forecasting the 10-year
    yield for week 53 and weeks 53-56. Bahdanau, D., Cho, K. and Bengio, Y. (2014).
    Neural machine translation by jointly learning to align and translate.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.models import LSTMAttentionRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 12, 3)).cumsum(axis=1)
    >>> y = X[:, -1, 0] + 0.1 * rng.normal(size=60)
    >>> model = LSTMAttentionRegressor(units=4, epochs=2, random_state=0).fit(X, y)
    >>> model.predict(X).shape
    (60,)
    >>> alpha = model.get_attention(X)
    >>> alpha.shape, bool(np.allclose(alpha.sum(axis=-1), 1.0))
    ((60, 1, 12), True)
    """

    _module = LSTMAttentionNet

    _parameter_constraints = {
        **_WindowNetRegressor._parameter_constraints,
        "attn_dense_nodes": [Interval(Integral, 0, None)],
        "shared_attention": ["boolean"],
    }

    def __init__(self, *, window=None, horizons=None, targets=None, differences=False,
                 standardize=True, units=32, attn_dense_nodes=0,
                 shared_attention=True, weight_decay=2e-5, recurrent_dropout=0.1,
                 recurrent_dropout_mode="batch", loss="squared_error", distribution="empirical", quantiles=DEFAULT_QUANTILES,
                 epochs=100, batch_size=32, lr=1e-3, early_stopping=False,
                 validation_fraction=0.1, validation_gap=0, patience=10, device="cpu",
                 random_state=None, verbose=0):
        self.window = window
        self.horizons = horizons
        self.targets = targets
        self.differences = differences
        self.standardize = standardize
        self.units = units
        self.attn_dense_nodes = attn_dense_nodes
        self.shared_attention = shared_attention
        self.weight_decay = weight_decay
        self.recurrent_dropout = recurrent_dropout
        self.recurrent_dropout_mode = recurrent_dropout_mode
        self.loss = loss
        self.distribution = distribution
        self.quantiles = quantiles
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.validation_gap = validation_gap
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _module_params(self):
        return dict(units=self.units, attn_dense_nodes=self.attn_dense_nodes,
                    shared_attention=self.shared_attention,
                    recurrent_dropout=self.recurrent_dropout,
                    recurrent_dropout_mode=self.recurrent_dropout_mode)

    def get_attention(self, X):
        """Attention weights of every forecast step over the window positions.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, window * n_series)
            Windows laid out as in ``fit``.

        Returns
        -------
        attention : ndarray of shape (n_samples, n_horizons, n_lags)
            Softmax weights (each row sums to one) of each forecast step over the
            positions the network sees: ``n_lags = window``, or ``window - 1`` with
            ``differences=True``. The last column is the window's last date.
        """
        X3 = self._validated_windows(X)
        _, attention = self._module_outputs(self._model_inputs(X3), return_attention=True)
        return attention

    @classmethod
    def get_test_params(cls):
        """Tiny configurations for the common estimator checks.

        Returns
        -------
        params : list of dict
        """
        return [
            {"window": 1, "units": 4, "epochs": 2, "recurrent_dropout": 0.0,
             "random_state": 0},
            {"window": 1, "units": 4, "epochs": 2, "attn_dense_nodes": 2,
             "shared_attention": False, "distribution": "gaussian", "early_stopping": True,
             "patience": 1, "validation_fraction": 0.2, "random_state": 0},
        ]
