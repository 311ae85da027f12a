"""Shared plumbing of the window-regressor estimators that train a torch module with skorch.

What lives here, so that every deep window model does it the same way:

- :class:`ChronologicalTailSplit`, skorch's ``train_split`` for time series: the validation
  set is the *last* rows (after an optional gap), never skorch's default ``ValidSplit(5)``,
  which on unshuffled rows validates on the earliest 20%;
- early stopping on that tail with the best weights restored;
- seeding (``torch_seed``: the caller's generators are untouched, a ``torch.Generator``
  drives shuffling), device resolution, float32 conversion;
- the input and target conventions: windows ``(n_samples, window, n_series)``, targets
  ``(n,)``, ``(n, n_targets)`` or ``(n, horizon, n_targets)`` returned in the layout ``fit``
  received, optional work in changes (``differences=True``) with levels restored in
  ``predict``, and standardisation fitted on the data given to ``fit`` only.

Subclasses provide the module class and its architecture arguments
(:meth:`_WindowNetRegressor._module_params`), their constructor and ``get_test_params``.
"""

import logging
import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNetRegressor
from skorch.callbacks import EarlyStopping
from torch.utils.data import Subset

from skyield.utils import (
    check_targets,
    resolve_device,
    restore_target_layout,
    torch_seed,
    validate_windows,
)

__all__ = ["ChronologicalTailSplit", "LOSSES"]

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

    def __call__(self, dataset, y=None, groups=None):
        n_rows = len(dataset)
        n_valid = int(np.ceil(self.fraction * n_rows))
        n_train = n_rows - n_valid - self.gap
        if n_valid < 1 or n_train < 1:
            raise ValueError(
                f"early stopping holds out a validation tail of {n_valid} row(s) after a gap "
                f"of {self.gap}, which leaves no training rows out of the {n_rows} "
                f"sample(s) given; pass more windows or lower validation_fraction / "
                f"validation_gap"
            )
        return (Subset(dataset, range(n_train)),
                Subset(dataset, range(n_rows - n_valid, n_rows)))

    def __repr__(self):
        return f"ChronologicalTailSplit(fraction={self.fraction}, gap={self.gap})"


def _check_int(estimator, name, minimum, allow_none=False):
    value = getattr(estimator, name)
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(
            f"{name} must be an integer >= {minimum}{' or None' if allow_none else ''}, "
            f"got {value!r}"
        )
    return int(value)


def _check_real(estimator, name, low, high, *, low_open=False, high_open=True):
    value = getattr(estimator, name)
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and \
            (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


def _check_bool(estimator, name):
    value = getattr(estimator, name)
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


class _WindowNetRegressor(RegressorMixin, BaseEstimator):
    """Base of the window regressors that train a torch module through skorch.

    Subclasses define ``__init__`` (storing at least the parameters read here: window,
    n_outputs, target, differences, standardize, units, regularization, recurrent_dropout,
    loss, epochs, batch_size, lr, early_stopping, validation_fraction, validation_gap,
    patience, device, random_state, verbose), ``_module`` and ``_module_params``.
    """

    _module = None

    def _module_params(self):
        """Architecture arguments of ``_module`` beyond n_series, n_outputs and n_targets."""
        raise NotImplementedError

    def _check_model_params(self):
        """Validate the subclass's own hyper-parameters (called at the top of ``fit``)."""

    # ------------------------------------------------------------------ validation
    def _check_params(self):
        _check_int(self, "window", 1, allow_none=True)
        _check_int(self, "n_outputs", 1, allow_none=True)
        _check_bool(self, "differences")
        _check_bool(self, "standardize")
        _check_int(self, "units", 1)
        _check_real(self, "regularization", 0.0, np.inf)
        _check_real(self, "recurrent_dropout", 0.0, 1.0)
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {self.loss!r}")
        _check_int(self, "epochs", 1)
        _check_int(self, "batch_size", 1)
        _check_real(self, "lr", 0.0, np.inf, low_open=True)
        _check_bool(self, "early_stopping")
        if self.early_stopping:
            _check_real(self, "validation_fraction", 0.0, 1.0, low_open=True)
            _check_int(self, "validation_gap", 0)
            _check_int(self, "patience", 1)
        self._check_model_params()

    def _check_target_index(self, n_series, n_targets):
        """Positions of the target series among the inputs (needed for differences)."""
        target = self.target
        if target is None:
            if not self.differences:
                return None
            if n_targets != n_series:
                raise ValueError(
                    f"differences=True restores levels from the last value of each target "
                    f"series in the window: set target= to the position of the "
                    f"{n_targets} target series among the {n_series} input series"
                )
            return np.arange(n_series)
        values = [target] if np.ndim(target) == 0 else list(target)
        if not values or not all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
            raise ValueError(
                f"target must be an integer position (or a list of positions) of the "
                f"forecast series among the input series, got {target!r}"
            )
        bad = [v for v in values if not -n_series <= v < n_series]
        if bad:
            raise ValueError(
                f"target position {bad[0]} is out of range: X has {n_series} series"
            )
        if len(values) != n_targets:
            raise ValueError(
                f"target names {len(values)} series but y has {n_targets} target(s)"
            )
        return np.asarray(values, dtype=int) % n_series

    def _check_y(self, y, n_samples):
        y3, layout = check_targets(y, n_samples)
        steps_in_columns = False
        if self.n_outputs is not None and y3.shape[1] != self.n_outputs:
            if layout.ndim == 2 and y3.shape[2] == self.n_outputs:
                # (n, n_outputs): the seed's layout, one target at consecutive steps.
                y3 = y3.transpose(0, 2, 1)
                steps_in_columns = True
            else:
                raise ValueError(
                    f"n_outputs={self.n_outputs} but y of shape {np.shape(y)} has "
                    f"{y3.shape[1]} forecast step(s); pass y of shape (n_samples, n_outputs) "
                    f"for one target or (n_samples, n_outputs, n_targets)"
                )
        return y3, layout, steps_in_columns

    # ------------------------------------------------------------------ transforms
    def _inputs(self, X3):
        if self.differences:
            if X3.shape[1] < 2:
                raise ValueError(
                    f"differences=True needs windows of at least 2 dates, got windows of "
                    f"length {X3.shape[1]}"
                )
            return np.diff(X3, axis=1)
        return X3

    def _scaled_inputs(self, X3):
        inputs = self._inputs(X3)
        return ((inputs - self.input_mean_) / self.input_scale_).astype(np.float32)

    def _last_level(self, X3):
        return X3[:, -1, self.target_index_]

    @staticmethod
    def _scale(values, axis):
        mean = values.mean(axis=axis, keepdims=True)
        scale = values.std(axis=axis, keepdims=True)
        scale[~(scale > 0)] = 1.0
        return mean, scale

    # ------------------------------------------------------------------ net
    def _build_net(self, module_params, device, generator):
        callbacks = []
        train_split = None
        if self.early_stopping:
            train_split = ChronologicalTailSplit(self.validation_fraction, self.validation_gap)
            callbacks.append(("early_stopping", EarlyStopping(
                monitor="valid_loss", patience=self.patience, load_best=True,
                sink=logger.info,
            )))
        # Coupled Adam weight decay 2 * lambda is the gradient of the penalty
        # lambda * sum(w ** 2) that Keras' l2(lambda) regulariser adds to the loss.
        return NeuralNetRegressor(
            module=self._module,
            **{f"module__{key}": value for key, value in module_params.items()},
            criterion=LOSSES[self.loss],
            optimizer=torch.optim.Adam,
            optimizer__weight_decay=2.0 * self.regularization,
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

    def fit(self, X, y):
        """Train the network on windows ``X`` and targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, n_features)
            Windows of history in time order (oldest window first, so that the
            validation tail of early stopping is the most recent data). A 2-D row is a
            window flattened in time-major order (see :func:`skyield.utils.validate_windows`).
        y : array-like of shape (n_samples,), (n_samples, n_targets) or \
                (n_samples, horizon, n_targets)
            Targets in levels; with ``n_outputs`` set, ``(n_samples, n_outputs)`` is read as
            ``n_outputs`` consecutive steps of one target.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        self._check_params()
        y_shape = np.asarray(y).shape
        if len(y_shape) == 3:
            # validate_windows checks 1-D/2-D targets; a horizon axis is folded meanwhile.
            y = np.asarray(y).reshape(y_shape[0], -1)
        X3, y = validate_windows(self, X, y, window=self.window)
        if len(y_shape) == 3:
            y = y.reshape(y_shape)
        y3, layout, steps_in_columns = self._check_y(y, X3.shape[0])
        n_samples, window, n_series = X3.shape
        target_index = self._check_target_index(n_series, y3.shape[2])
        inputs = self._inputs(X3)
        if self.differences:
            y3 = y3 - X3[:, -1, target_index][:, None, :]
        if self.standardize:
            input_mean, input_scale = self._scale(inputs, axis=(0, 1))
            target_mean, target_scale = self._scale(y3, axis=0)
        else:
            input_mean, input_scale = np.zeros((1, 1, n_series)), np.ones((1, 1, n_series))
            target_mean = np.zeros((1,) + y3.shape[1:])
            target_scale = np.ones((1,) + y3.shape[1:])

        self.n_series_in_ = n_series
        self.window_ = window
        self.n_outputs_ = y3.shape[1]
        self.n_targets_ = y3.shape[2]
        self.target_index_ = target_index
        self.target_layout_ = layout
        self.steps_in_columns_ = steps_in_columns
        self.input_mean_, self.input_scale_ = input_mean, input_scale
        self.target_mean_, self.target_scale_ = target_mean, target_scale
        inputs = ((inputs - input_mean) / input_scale).astype(np.float32)
        targets = ((y3 - target_mean) / target_scale).astype(np.float32)

        device = resolve_device(self.device)
        module_params = dict(n_series=n_series, n_outputs=self.n_outputs_,
                             n_targets=self.n_targets_, **self._module_params())
        with torch_seed(self.random_state, device) as generator:
            self.net_ = self._build_net(module_params, device, generator)
            self.net_.fit(inputs, targets)
        self.n_epochs_ = len(self.net_.history)
        return self

    def _validated_inputs(self, X):
        check_is_fitted(self)
        X3, _ = validate_windows(self, X, window=self.window, reset=False)
        if X3.shape[1] != self.window_:
            raise ValueError(
                f"X windows have length {X3.shape[1]} but {type(self).__name__} was fitted "
                f"on windows of length {self.window_}"
            )
        return X3

    def predict(self, X):
        """Forecast the targets of each window.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, n_features)
            Windows laid out as in ``fit``.

        Returns
        -------
        y_pred : ndarray
            Forecasts in levels, in the layout of the ``y`` given to ``fit``:
            (n_samples,), (n_samples, n_targets), (n_samples, n_outputs) or
            (n_samples, horizon, n_targets).
        """
        X3 = self._validated_inputs(X)
        scaled = self.net_.predict(self._scaled_inputs(X3)).astype(np.float64)
        y3 = scaled.reshape((X3.shape[0], self.n_outputs_, self.n_targets_))
        y3 = y3 * self.target_scale_ + self.target_mean_
        if self.differences:
            y3 = y3 + self._last_level(X3)[:, None, :]
        if self.steps_in_columns_:
            return y3[:, :, 0]
        return restore_target_layout(y3, self.target_layout_)

    def _module_outputs(self, X, **forward_kwargs):
        """Run the fitted module in evaluation mode over ``X`` in batches.

        Returns the concatenated outputs of ``module_(x, **forward_kwargs)``; a tuple
        output gives a tuple of float64 arrays.
        """
        X3 = self._validated_inputs(X)
        inputs = self._scaled_inputs(X3)
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.multi_output = True
        tags.regressor_tags.poor_score = True
        return tags
