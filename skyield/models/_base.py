"""Shared plumbing of the deep window regressors that train a torch module with skorch.

What lives here, so that every deep window model does it the same way:

- :class:`ChronologicalTailSplit`, skorch's ``train_split`` for time series: the validation
  set is the *last* rows (after an optional gap), never skorch's default ``ValidSplit(5)``,
  which on unshuffled rows validates on the earliest 20%; its :meth:`~ChronologicalTailSplit.train_size`
  tells the scalers which rows they may learn from (the training part only);
- :func:`quantiles_from_knots`, quantiles at any level inside the range of a head's
  trained levels, by linear interpolation in the level;
- :func:`previous_weights` and :func:`load_previous_weights`, the warm start of every
  network estimator (``warm_start=True``): the next ``fit`` starts from the weights of
  the previous one;
- :class:`_WindowNetRegressor`, the base of the LSTM forecasters: standardisation fitted
  on the training part only, a point, non-crossing quantile or Gaussian head
  (``distribution``), early stopping on the chronological tail with the best weights
  restored, seeding and device resolution (``torch_seed``, ``resolve_device``), and the
  evaluation-mode forward pass in batches.

**Warm starts.** With ``warm_start=True``, a fitted network estimator's next ``fit``
(a refit on a longer or later training span, say) initialises its network as a cold fit
does, under the same seed, and then overwrites every weight with the previous fit's, so
that the seeded draws of the batch order and the dropout masks are those of a cold fit
and only the starting point differs. What carries over is the weights, nothing else:
the scalers are fitted again on the new training part, Adam starts with fresh moment
estimates (as scikit-learn's warm-started ``MLPRegressor``), early stopping, the
residuals and ``n_epochs_`` are the new fit's, and ``epochs`` counts the new fit's
passes (a few are enough to fine-tune). With early stopping, the starting weights count
as epoch 0 (:class:`WarmStartEarlyStopping`): when no epoch improves on them on the new
validation tail, the refit keeps them. ``warm_start=False`` (the default) ignores any
previous fit, so a model refitted with it equals a new one fitted with the same seed.

Subclasses provide the module class and its architecture arguments
(:meth:`_WindowNetRegressor._module_params`), their constructor and ``get_test_params``.
"""

import copy
import logging
from numbers import Integral, Real

import numpy as np
import torch
from scipy.stats import norm
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping
from skorch.dataset import get_len
from torch.utils.data import Subset

from skyield.base import BaseWindowRegressor
from skyield.nn import DistributionOutput, GaussianNLL, QuantileCenterLoss
from skyield.nn._lstm import RECURRENT_DROPOUT_MODES
from skyield.utils import (
    Interval,
    Options,
    Satisfies,
    check_increasing_levels,
    resolve_device,
    torch_seed,
)

__all__ = [
    "ChronologicalTailSplit",
    "LOSSES",
    "WarmStartEarlyStopping",
    "early_stopping",
    "load_previous_weights",
    "module_weights",
    "previous_weights",
    "quantiles_from_knots",
    "release_generator",
]

logger = logging.getLogger("skyield.models")

LOSSES = {
    "squared_error": torch.nn.MSELoss,
    "absolute_error": torch.nn.L1Loss,
    "huber": torch.nn.HuberLoss,
}


class ChronologicalTailSplit:
    """skorch ``train_split`` holding out the most recent rows for validation.

    Rows must be in time order (as windows built by :func:`skyield.preprocessing.make_windows`
    are). With ``n`` rows, the last ``ceil(fraction * n)`` rows validate and the training
    rows end ``gap`` rows before them. Windows overlap, so a gap of
    ``window + horizon - 1`` rows makes sure no validation window shares a date with the
    targets of a training window.

    Parameters
    ----------
    fraction : float, default=0.1
        Share of rows in the validation tail, in (0, 1).
    gap : int, default=0
        Rows dropped between the training rows and the validation tail.
    """

    def __init__(self, fraction=0.1, gap=0):
        self.fraction = fraction
        self.gap = gap

    def sizes(self, n_rows):
        """Numbers of training and validation rows out of ``n_rows``."""
        n_valid = int(np.ceil(self.fraction * n_rows))
        n_train = n_rows - n_valid - self.gap
        if n_valid < 1 or n_train < 1:
            raise ValueError(
                f"early stopping holds out a validation tail of {n_valid} row(s) after a gap "
                f"of {self.gap}, which leaves no training rows out of the {n_rows} "
                f"sample(s) given; pass more windows or lower validation_fraction / "
                f"validation_gap"
            )
        return n_train, n_valid

    def train_size(self, n_rows):
        """Number of leading rows that train (the rows scalers may learn from)."""
        return self.sizes(n_rows)[0]

    def __call__(self, dataset, y=None, groups=None):
        n_rows = len(dataset)
        n_train, n_valid = self.sizes(n_rows)
        return (Subset(dataset, range(n_train)),
                Subset(dataset, range(n_rows - n_valid, n_rows)))

    def __repr__(self):
        return f"ChronologicalTailSplit(fraction={self.fraction}, gap={self.gap})"


def release_generator(net):
    """Drop the shuffling generator from a trained skorch net.

    It served the training batches only. Kept, it would make the fitted model's pickle
    depend on memory addresses (a ``torch.Generator`` pickles its state tensor under its
    storage address), so two pickles of one unchanged model would differ.
    """
    net.iterator_train__generator = None
    return net


def previous_weights(estimator):
    """The weights a warm-started ``fit`` starts from, or None for a cold start.

    A copy (on the CPU) of the state of the previous fit's module ``net_.module_`` when
    ``estimator.warm_start`` is True and the estimator is fitted; None otherwise (an
    unfitted estimator, e.g. a clone, starts cold whatever ``warm_start`` says). Taken
    before the new fit replaces anything.
    """
    net = getattr(estimator, "net_", None)
    if not getattr(estimator, "warm_start", False) or net is None:
        return None
    return module_weights(net.module_)


def module_weights(module):
    """A copy, on the CPU, of the weights (the state) of a torch module."""
    return {name: value.detach().cpu().clone() for name, value in module.state_dict().items()}


def load_previous_weights(module, state, owner):
    """Overwrite the weights of a freshly initialised ``module`` with a previous fit's.

    Parameters
    ----------
    module : torch.nn.Module
        The new fit's module, initialised.
    state : dict of {str: torch.Tensor}
        The previous fit's weights (:func:`previous_weights`).
    owner : str
        The estimator's name, for the error message.

    Raises
    ------
    ValueError
        When the two networks differ in shape: the series, horizons, targets or the
        architecture changed since the previous fit.
    """
    own = module.state_dict()
    for name in sorted(set(own) | set(state)):
        old = tuple(state[name].shape) if name in state else None
        new = tuple(own[name].shape) if name in own else None
        if old != new:
            raise ValueError(
                f"{owner}(warm_start=True) cannot start from the previous fit: its network "
                f"has {name!r} of shape {old} where the new one has {new} (the number of "
                f"series, horizons or targets, or the architecture, changed); fit with "
                f"warm_start=False"
            )
    device = next(iter(own.values())).device if own else None
    module.load_state_dict({name: value.to(device) for name, value in state.items()})
    return module


def _validation_loss(net, dataset):
    """skorch's ``valid_loss`` of the net's current weights on ``dataset``: the batch
    losses in evaluation mode, averaged with the batch sizes as weights."""
    total, count = 0.0, 0
    for batch in net.get_iterator(dataset, training=False):
        size = get_len(batch[1])
        total += float(net.validation_step(batch)["loss"]) * size
        count += size
    return total / count


class WarmStartEarlyStopping(EarlyStopping):
    """skorch's ``EarlyStopping`` for a warm start: the starting weights are epoch 0.

    Before the first epoch, the validation loss of the weights training starts from (the
    previous fit's) sets the bar every epoch must beat, and those weights are the best so
    far: a fine-tuning that never improves on them on the new validation tail ends with
    them restored. The evaluation draws nothing from the seeded random generators (they
    are forked around it), so the epochs that follow see a cold fit's draws.
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        _, valid = net.get_split_datasets(X, y)
        if valid is None:
            return
        with torch.random.fork_rng(devices=[]):
            loss = _validation_loss(net, valid)
        self.dynamic_threshold_ = self._calc_new_threshold(loss)
        self.best_epoch_ = 0
        if self.load_best:
            self.best_model_weights_ = copy.deepcopy(net.module_.state_dict())


def early_stopping(patience, warm=False):
    """The early-stopping callback of the network estimators (best weights restored).

    Parameters
    ----------
    patience : int
        Epochs without improvement of ``valid_loss`` before stopping.
    warm : bool, default=False
        A warm-started fit: :class:`WarmStartEarlyStopping`, whose epoch 0 is the
        starting weights.

    Returns
    -------
    callback : tuple of (str, EarlyStopping)
        The named callback for skorch's ``callbacks=``.
    """
    kind = WarmStartEarlyStopping if warm else EarlyStopping
    return ("early_stopping", kind(monitor="valid_loss", patience=patience, load_best=True,
                                   sink=logger.info))


def quantiles_from_knots(knots, table, levels):
    """Quantiles at ``levels`` from quantiles known at the levels ``knots``.

    A level between two knots is interpolated linearly in the level, which keeps the
    quantiles non-decreasing in the level; a level outside the knots' range is an error
    (no extrapolation into the tails).

    Parameters
    ----------
    knots : ndarray of shape (n_knots,)
        Increasing levels.
    table : ndarray of shape (..., n_knots)
        Quantiles at the knots, non-decreasing along the last axis.
    levels : ndarray of shape (n_levels,)
        Increasing levels.

    Returns
    -------
    quantiles : ndarray of shape (..., n_levels)
    """
    outside = levels[(levels < knots[0] - 1e-12) | (levels > knots[-1] + 1e-12)]
    if outside.size:
        raise ValueError(
            f"quantile level {outside[0]:g} is outside the range the model was trained "
            f"on, [{knots[0]:g}, {knots[-1]:g}] (levels {np.round(knots, 6).tolist()}); "
            f"refit with quantiles= covering it"
        )
    if knots.size == 1:
        return np.repeat(table, levels.size, axis=-1)
    positions = np.clip(np.searchsorted(knots, levels), 1, knots.size - 1)
    left, right = positions - 1, positions
    weight = np.clip((levels - knots[left]) / (knots[right] - knots[left]), 0.0, 1.0)
    # a + w (b - a) rather than (1 - w) a + w b: monotone in w to the last bit, so equal
    # neighbouring knots give equal, never decreasing, quantiles.
    low = table[..., left]
    return low + weight * (table[..., right] - low)


def _is_level_tuple(value):
    levels = check_increasing_levels(value)
    return levels.size >= 1


#: Constraints of the training parameters every network estimator shares.
TRAINING_CONSTRAINTS = {
    "epochs": [Interval(Integral, 1, None)],
    "batch_size": [Interval(Integral, 1, None)],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "weight_decay": [Interval(Real, 0, None)],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "validation_gap": [Interval(Integral, 0, None)],
    "patience": [Interval(Integral, 1, None)],
    "warm_start": ["boolean"],
    "device": [str, torch.device],
    "random_state": ["random_state"],
    "verbose": [Interval(Integral, 0, None)],
}


class _WindowNetRegressor(BaseWindowRegressor):
    """Base of the LSTM window regressors that train a torch module through skorch.

    Subclasses define ``__init__`` (storing the parameters constrained below, and their
    own), ``_module`` and ``_module_params``.

    The predictive distribution (``distribution``): ``"empirical"`` trains the network
    on the point loss ``loss`` and adds the empirical quantiles of its forecast errors
    to the forecast (errors on the validation tail with early stopping, else on the
    training windows, which understate the errors of new data); ``"quantile"`` trains
    non-crossing quantile heads at the levels ``quantiles`` with the pinball loss plus
    the absolute error of the centre (the median; eq. 4.4 of Richman and Scognamiglio
    with gamma = 1); ``"gaussian"`` trains a mean and a standard deviation with the
    Gaussian negative log-likelihood.
    """

    _module = None

    _parameter_constraints = {
        **BaseWindowRegressor._parameter_constraints,
        "standardize": ["boolean"],
        "units": [Interval(Integral, 1, None)],
        "recurrent_dropout": [Interval(Real, 0, 1, closed="left")],
        "recurrent_dropout_mode": [Options(*RECURRENT_DROPOUT_MODES)],
        "loss": [Options(*LOSSES)],
        "distribution": [Options("empirical", "quantile", "gaussian")],
        "quantiles": [Satisfies(_is_level_tuple, "strictly increasing levels in (0, 1)")],
        **TRAINING_CONSTRAINTS,
    }

    def _module_params(self):
        """Architecture arguments of ``_module`` beyond n_series, n_outputs and n_targets."""
        raise NotImplementedError

    # ------------------------------------------------------------------ scaling
    @staticmethod
    def _scale(values, axis):
        mean = values.mean(axis=axis, keepdims=True)
        scale = values.std(axis=axis, keepdims=True)
        scale[~(scale > 0)] = 1.0
        return mean, scale

    def _split(self):
        if not self.early_stopping:
            return None
        return ChronologicalTailSplit(self.validation_fraction, self.validation_gap)

    def _scaled_inputs(self, X):
        scaled = (X - self.input_mean_) / self.input_scale_
        too_large = ~(np.abs(scaled) <= np.finfo(np.float32).max)
        if too_large.any():
            row = int(np.argwhere(too_large)[0][0])
            raise ValueError(
                f"X window {row} lies beyond the float32 range of the network once "
                f"standardised with the training windows' means and scales (values of "
                f"order {np.max(np.abs(X[row])):.3g} against a training scale of "
                f"{float(np.min(self.input_scale_)):.3g})"
            )
        return scaled.astype(np.float32)

    # ------------------------------------------------------------------ net
    def _head(self):
        return DistributionOutput.n_raw(self.distribution, self.quantiles) \
            if self.distribution != "empirical" else 1

    def _build_net(self, module_params, device, generator, train_split, warm=False):
        callbacks = []
        if train_split is not None:
            callbacks.append(early_stopping(self.patience, warm))
        n_targets = module_params["n_targets"]
        if self.distribution == "empirical":
            module, module_kwargs = self._module, module_params
            criterion = {"criterion": LOSSES[self.loss]}
        else:
            module = DistributionOutput
            inner = self._module(**dict(module_params, n_targets=n_targets * self._head()))
            module_kwargs = dict(module=inner, n_targets=n_targets,
                                 distribution=self.distribution,
                                 quantiles=tuple(self.quantiles))
            criterion = {"criterion": GaussianNLL} if self.distribution == "gaussian" else {
                "criterion": QuantileCenterLoss,
                "criterion__quantiles": tuple(float(q) for q in self.quantiles),
                "criterion__gamma": 1}
        # weight_decay is Adam's coupled decay: the gradient of the penalty
        # (weight_decay / 2) * sum(w ** 2), i.e. Keras' l2(weight_decay / 2).
        return NeuralNet(
            module=module,
            **{f"module__{key}": value for key, value in module_kwargs.items()},
            **criterion,
            optimizer=torch.optim.Adam,
            optimizer__weight_decay=self.weight_decay,
            lr=self.lr,
            max_epochs=self.epochs,
            batch_size=self.batch_size,
            train_split=train_split,
            callbacks=callbacks,
            iterator_train__shuffle=True,
            iterator_train__generator=generator,
            device=str(device),
            verbose=self.verbose,
        )

    def _fit(self, X, y):
        previous = previous_weights(self)
        n_samples, _, n_series = X.shape
        n_steps, n_targets = y.shape[1:]
        split = self._split()
        # Scalers learn from the training part only: the validation tail of early
        # stopping is data the fit must not have seen.
        n_train = n_samples if split is None else split.train_size(n_samples)
        if self.standardize:
            input_mean, input_scale = self._scale(X[:n_train], axis=(0, 1))
            target_mean, target_scale = self._scale(y[:n_train], axis=0)
        else:
            input_mean, input_scale = np.zeros((1, 1, n_series)), np.ones((1, 1, n_series))
            target_mean, target_scale = np.zeros((1,) + y.shape[1:]), np.ones((1,) + y.shape[1:])
        self.input_mean_, self.input_scale_ = input_mean, input_scale
        self.target_mean_, self.target_scale_ = target_mean, target_scale
        inputs = self._scaled_inputs(X)
        targets = ((y - target_mean) / target_scale).astype(np.float32)
        if self.distribution != "empirical":
            targets = targets.reshape(n_samples, n_steps * n_targets)

        device = resolve_device(self.device)
        module_params = dict(n_series=n_series, n_outputs=n_steps, n_targets=n_targets,
                             **self._module_params())
        with torch_seed(self.random_state, device) as generator:
            self.net_ = self._build_net(module_params, device, generator, split,
                                        warm=previous is not None)
            if previous is None:
                self.net_.fit(inputs, targets)
            else:
                # skorch's fit is initialize() then partial_fit(): the same draws.
                self.net_.initialize()
                load_previous_weights(self.net_.module_, previous, type(self).__name__)
                self.net_.partial_fit(inputs, targets)
        release_generator(self.net_)
        self.n_epochs_ = len(self.net_.history)
        self.quantiles_ = np.asarray(self.quantiles, dtype=float)
        if self.distribution == "empirical":
            rows = slice(None) if split is None else slice(n_samples - split.sizes(n_samples)[1],
                                                           None)
            self._record_residuals(y[rows], self._predict(X[rows]))

    # ------------------------------------------------------------------ prediction
    def _module_outputs(self, X, **forward_kwargs):
        """Outputs of the fitted module in evaluation mode over model inputs ``X``.

        Returns the concatenated outputs as float64 arrays (a tuple for tuple outputs).
        """
        inputs = self._scaled_inputs(X)
        module = self.net_.module_
        device = self.net_.device
        was_training = module.training
        module.eval()
        outputs = []
        step = max(self.batch_size, 256)
        try:
            with torch.no_grad():
                for start in range(0, inputs.shape[0], step):
                    batch = torch.as_tensor(inputs[start:start + step], device=device)
                    out = module(batch, **forward_kwargs)
                    out = out if isinstance(out, tuple) else (out,)
                    outputs.append([o.detach().cpu().numpy() for o in out])
        finally:
            module.train(was_training)
        results = tuple(np.concatenate(parts).astype(np.float64) for parts in zip(*outputs))
        return results if len(results) > 1 else results[0]

    def _head_outputs(self, X):
        """(n, n_rows, n_steps, n_targets) in scaled units (one row for the point head)."""
        out = self._module_outputs(X)
        n_steps, n_targets = self.target_mean_.shape[1:]
        return out.reshape(X.shape[0], -1, n_steps, n_targets)

    def _unscale(self, values, shift=True):
        return values * self.target_scale_ + (self.target_mean_ if shift else 0.0)

    def _predict(self, X):
        return self._unscale(self._head_outputs(X)[:, 0])

    def _predict_quantiles(self, X, levels):
        if self.distribution == "empirical":
            return super()._predict_quantiles(X, levels)
        out = self._head_outputs(X)
        center = self._unscale(out[:, 0])
        if self.distribution == "gaussian":
            std = self._unscale(out[:, 1], shift=False)
            return center[..., None] + std[..., None] * norm.ppf(levels)
        knots = list(self.quantiles_)
        table = np.moveaxis(self._unscale(out[:, 1:].transpose(1, 0, 2, 3)), 0, -1)
        if 0.5 not in knots:  # the centre is the median (gamma = 1)
            position = int(np.searchsorted(knots, 0.5))
            knots.insert(position, 0.5)
            table = np.insert(table, position, center, axis=-1)
        return quantiles_from_knots(np.asarray(knots), table, levels)
