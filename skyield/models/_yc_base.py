"""Shared machinery of the multiple-yield-curve estimators (YC_ATT and its transfer).

:class:`~skyield.models._yield_curve_attention.YieldCurveAttentionRegressor` and
:class:`~skyield.models._yc_transfer.TransferredCurveRegressor` train the same network
(:class:`skyield.nn._yield_curve_attention.YieldCurveAttentionNet`) in the same way and
predict through the same methods; they differ only in where the architecture comes from
and in how the network is initialised. This module holds what they share:

- the ``families`` sample metadata (one label per window; an unseen family at predict
  time is an error naming it);
- min-max scaling with one global minimum and maximum over the training windows and
  targets (seed 001, section 5), fitted in ``fit`` only and inverted on every output;
- the skorch net (a ``NeuralNet`` with the quantile or Gaussian loss, Adam, and the
  chronological validation tail of :mod:`skyield.models._base` for early stopping);
- ``predict``, ``predict_quantiles``, ``predict_interval``, ``predict_std``,
  ``get_attention``, ``get_features`` and ``score``.

The training steps are split into hooks (``_training_setup``, ``_new_net``,
``_initialize_net``, ``_finish_fit``) so that :mod:`skyield.ensemble` can train several
members as one batched model and hand each its fitted net.
"""

import copy

import numpy as np
import pandas as pd
import torch
from scipy.stats import norm
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping

from skyield.models._base import (
    ChronologicalTailSplit,
    _check_bool,
    _check_int,
    _check_real,
    logger,
)
from skyield.nn._yield_curve_attention import (
    GaussianNLL,
    QuantileCenterLoss,
    YieldCurveAttentionNet,
)
from skyield.preprocessing import SeriesMinMaxScaler
from skyield.utils import (
    check_coverage,
    check_targets,
    resolve_device,
    restore_target_layout,
    torch_seed,
    validate_windows,
)

__all__ = []

EXTRACTORS = ("attention", "conv", "lstm", "transformer")
DISTRIBUTIONS = ("quantile", "gaussian")
OUTPUT_ACTIVATIONS = ("sigmoid", "linear")
SPREAD_ACTIVATIONS = ("sigmoid", "softplus")
_PREDICT_BATCH = 1024


def check_quantile_levels(quantiles, name="quantiles"):
    """Distinct, finite levels strictly inside (0, 1), as a float array (order kept)."""
    try:
        levels = np.asarray(quantiles, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of numbers in (0, 1), got {quantiles!r}")
    if levels.ndim == 0:
        levels = levels[None]
    if levels.ndim != 1 or levels.size == 0:
        raise ValueError(f"{name} must be a non-empty sequence of levels, got {quantiles!r}")
    bad = levels[~((levels > 0) & (levels < 1))]
    if bad.size:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {bad[0]!r}")
    if np.unique(levels).size != levels.size:
        raise ValueError(f"{name} contains a repeated level: {levels.tolist()}")
    return levels


def _has_attention(estimator):
    return estimator._extractor_name() in ("attention", "transformer")


def _is_gaussian(estimator):
    return estimator._distribution_name() == "gaussian"


class _YieldCurveNetBase(RegressorMixin, BaseEstimator):
    """Fit and predict of the YC_ATT network; subclasses supply the architecture.

    Subclasses implement ``_architecture()`` (validated architecture dict),
    ``_extractor_name()``, ``_distribution_name()`` and may extend ``_module_params``
    and ``_initialize_net``. They store the training parameters read here: window,
    epochs, batch_size, lr, early_stopping, validation_fraction, validation_gap,
    patience, device, random_state, verbose.
    """

    # ------------------------------------------------------------------ hooks
    def _architecture(self):
        raise NotImplementedError

    def _extractor_name(self):
        raise NotImplementedError

    def _distribution_name(self):
        raise NotImplementedError

    def _check_model_params(self):
        """Validate the subclass's own parameters (called first in ``fit``)."""

    def _module_params(self):
        arch = self.architecture_
        center = "median" if arch["gamma"] == 1 else "mean"
        return dict(
            n_series=self.n_series_in_, n_outputs=self.n_outputs_, window=self.window_,
            n_families=1 if self.families_ is None else len(self.families_),
            extractor=arch["extractor"], units=arch["units"],
            embedding_size=arch["embedding_size"], dropout=arch["dropout"],
            quantiles=tuple(arch["quantiles"]), center=center,
            distribution=arch["distribution"],
            output_activation=arch["output_activation"],
            spread_activation=arch["spread_activation"],
        )

    def _initialize_net(self, net):
        """Initialise the skorch net (its module's weights) before training."""
        net.initialize()
        return net

    # ------------------------------------------------------------------ validation
    def _check_training_params(self):
        _check_int(self, "window", 1, allow_none=True)
        _check_int(self, "epochs", 1)
        _check_int(self, "batch_size", 1)
        _check_real(self, "lr", 0.0, np.inf, low_open=True)
        _check_bool(self, "early_stopping")
        if self.early_stopping:
            _check_real(self, "validation_fraction", 0.0, 1.0, low_open=True)
            _check_int(self, "validation_gap", 0)
            _check_int(self, "patience", 1)
        resolve_device(self.device)

    def _family_codes(self, families, n_samples, fitting):
        """Integer code of every window's family (zeros without families)."""
        if families is None:
            if not fitting and self.families_ is not None:
                raise ValueError(
                    f"this model was fitted with families {list(self.families_)}; pass "
                    f"families= (one label per window)"
                )
            if fitting:
                self.families_ = None
            return np.zeros(n_samples, dtype=np.int64)
        if not fitting and self.families_ is None:
            raise ValueError(
                "this model was fitted without families (one implicit family); do not "
                "pass families="
            )
        labels = np.asarray(families, dtype=object)
        if labels.ndim != 1 or labels.shape[0] != n_samples:
            raise ValueError(
                f"families must hold one label per window: expected shape ({n_samples},), "
                f"got {np.shape(families)}"
            )
        missing = pd.isna(labels)
        if missing.any():
            raise ValueError(
                f"families has a missing label at window {int(np.flatnonzero(missing)[0])}"
            )
        if fitting:
            self.families_ = np.asarray(pd.unique(labels), dtype=object)
        codes = pd.Index(self.families_).get_indexer(labels)
        if (codes < 0).any():
            window = int(np.flatnonzero(codes < 0)[0])
            raise ValueError(
                f"family {labels[window]!r} (window {window}) was not seen in fit; fitted "
                f"families: {list(self.families_)}"
            )
        return codes.astype(np.int64)

    def _validated_windows(self, X):
        check_is_fitted(self)
        X3, _ = validate_windows(self, X, window=self.window, reset=False)
        if X3.shape[1] != self.window_:
            raise ValueError(
                f"X windows have length {X3.shape[1]} but {type(self).__name__} was fitted "
                f"on windows of length {self.window_}"
            )
        return X3

    # ------------------------------------------------------------------ training
    def _training_setup(self, X, y, families):
        """Validate the data, fit the scaler, set the data attributes; return net input."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        self._check_training_params()
        self._check_model_params()
        architecture = self._architecture()
        y_shape = np.asarray(y).shape
        if len(y_shape) == 3:
            # validate_windows checks 1-D/2-D targets; a horizon axis is folded meanwhile.
            y = np.asarray(y).reshape(y_shape[0], -1)
        X3, y = validate_windows(self, X, y, window=self.window)
        if len(y_shape) == 3:
            y = y.reshape(y_shape)
        y3, layout = check_targets(y, X3.shape[0])
        n_samples, window, n_series = X3.shape
        codes = self._family_codes(families, n_samples, fitting=True)
        scaler = SeriesMinMaxScaler(feature_range=architecture["feature_range"], scope="global")
        scaler.fit(np.concatenate([X3.ravel(), y3.ravel()])[:, None])

        self.architecture_ = architecture
        self.quantiles_ = np.asarray(architecture["quantiles"], dtype=float)
        self.n_series_in_ = n_series
        self.window_ = window
        self.target_layout_ = layout
        self.n_outputs_ = y3.shape[1] * y3.shape[2]
        self.scaler_ = scaler
        inputs = {"yields": self._scale(X3), "family": codes}
        targets = self._scale(y3.reshape(n_samples, -1))
        return inputs, targets

    def _scaling(self):
        return (float(np.ravel(self.scaler_.offset_)[0]),
                float(np.ravel(self.scaler_.scale_)[0]))

    def _scale(self, values, dtype=np.float32):
        offset, scale = self._scaling()
        return ((values - offset) / scale).astype(dtype)

    def _unscale(self, values, shift=True):
        offset, scale = self._scaling()
        return values * scale + (offset if shift else 0.0)

    def _new_net(self, device, generator):
        """The skorch net, not yet initialised (its module is built from _module_params)."""
        architecture = self.architecture_
        callbacks = []
        train_split = None
        if self.early_stopping:
            train_split = ChronologicalTailSplit(self.validation_fraction, self.validation_gap)
            callbacks.append(("early_stopping", EarlyStopping(
                monitor="valid_loss", patience=self.patience, load_best=True,
                sink=logger.info,
            )))
        if architecture["distribution"] == "gaussian":
            criterion = {"criterion": GaussianNLL}
        else:
            criterion = {"criterion": QuantileCenterLoss,
                         "criterion__quantiles": tuple(architecture["quantiles"]),
                         "criterion__gamma": architecture["gamma"]}
        return NeuralNet(
            module=YieldCurveAttentionNet,
            **{f"module__{key}": value for key, value in self._module_params().items()},
            **criterion,
            optimizer=torch.optim.Adam,
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

    def _finish_fit(self, net, n_epochs):
        self.net_ = net
        self.n_epochs_ = int(n_epochs)
        return self

    def fit(self, X, y, families=None):
        """Train the network on windows of curves and next-date targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, n_features)
            Windows of the last ``window`` curves of one family (oldest date first), in
            time order (the validation tail of early stopping is the last rows). A 2-D
            row is a window flattened in time-major order (see
            :func:`skyield.utils.validate_windows`).
        y : array-like of shape (n_samples,), (n_samples, n_targets) or \
                (n_samples, horizon, n_targets)
            Targets in the units of ``X`` (typically the curve of the next date).
        families : array-like of shape (n_samples,), default=None
            Curve family of each window (any hashable labels). None: one family.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        inputs, targets = self._training_setup(X, y, families)
        device = resolve_device(self.device)
        with torch_seed(self.random_state, device) as generator:
            net = self._initialize_net(self._new_net(device, generator))
            net.partial_fit(inputs, targets)
        return self._finish_fit(net, len(net.history))

    # ------------------------------------------------------------------ prediction
    def _network_outputs(self, X, families, **forward_kwargs):
        """Outputs of the fitted module in evaluation mode, in scaled units, in float64."""
        X3 = self._validated_windows(X)
        codes = self._family_codes(families, X3.shape[0], fitting=False)
        yields = self._scale(X3, dtype=np.float64)
        # A float64 copy of the float32 weights: in float32 a window's forecast moves in
        # the last bits with the other windows of the batch (matrix-product blocking).
        module = copy.deepcopy(self.net_.module_).double().eval()
        device = self.net_.device
        outputs = []
        with torch.no_grad():
            for start in range(0, X3.shape[0], _PREDICT_BATCH):
                stop = start + _PREDICT_BATCH
                out = module(torch.as_tensor(yields[start:stop], device=device),
                             torch.as_tensor(codes[start:stop], device=device),
                             **forward_kwargs)
                out = out if isinstance(out, tuple) else (out,)
                outputs.append([None if o is None else o.cpu().numpy() for o in out])
        results = tuple(
            None if parts[0] is None else np.concatenate(parts).astype(np.float64)
            for parts in zip(*outputs)
        )
        return results if len(results) > 1 else results[0]

    def _layout(self, values):
        """(n, n_outputs, ...) -> the layout of the ``y`` given to ``fit``."""
        layout = self.target_layout_
        shape = (values.shape[0], layout.horizon, layout.n_targets) + values.shape[2:]
        return restore_target_layout(values.reshape(shape), layout)

    def predict(self, X, families=None):
        """Central forecast: the median (gamma=1), the mean (gamma=2 or Gaussian heads).

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, n_features)
            Windows laid out as in ``fit``.
        families : array-like of shape (n_samples,), default=None
            Family of each window; required when fitted with families.

        Returns
        -------
        y_pred : ndarray
            In the layout of the ``y`` given to ``fit``: (n_samples,),
            (n_samples, n_targets) or (n_samples, horizon, n_targets).
        """
        out = self._network_outputs(X, families)
        return self._layout(self._unscale(out[:, 0]))

    def _quantile_knots(self, X, families):
        """Trained levels and the quantiles there, (n, n_outputs, n_levels), scaled."""
        out = self._network_outputs(X, families)
        levels = list(self.quantiles_)
        values = out[:, 1:].transpose(0, 2, 1)
        if self.architecture_["gamma"] == 1 and 0.5 not in levels:
            position = int(np.searchsorted(levels, 0.5))
            levels.insert(position, 0.5)
            values = np.insert(values, position, out[:, 0], axis=2)
        return np.asarray(levels), values

    def predict_quantiles(self, X, quantiles=None, families=None):
        """Quantile forecasts at the given levels.

        With quantile heads, levels are read from the trained quantiles (``quantiles_``,
        plus 0.5 when the centre is the median, gamma=1). A level between two of them is
        interpolated linearly in the level, which keeps the quantiles non-decreasing in
        the level; a level outside the trained range is an error (no extrapolation into
        the tails). With Gaussian heads any level is
        ``mean + std * Phi^{-1}(level)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, n_features)
            Windows laid out as in ``fit``.
        quantiles : array-like of shape (n_quantiles,), default=None
            Levels strictly inside (0, 1); None means the trained levels ``quantiles_``.
        families : array-like of shape (n_samples,), default=None
            Family of each window; required when fitted with families.

        Returns
        -------
        y_quantiles : ndarray
            The layout of ``predict`` with a last axis of length ``n_quantiles``, in the
            order of ``quantiles``.
        """
        check_is_fitted(self)
        levels = self.quantiles_ if quantiles is None else check_quantile_levels(quantiles)
        if self.architecture_["distribution"] == "gaussian":
            out = self._network_outputs(X, families)
            values = out[:, 0, :, None] + out[:, 1, :, None] * norm.ppf(levels)
            return self._layout(self._unscale(values))
        knots, table = self._quantile_knots(X, families)
        outside = levels[(levels < knots[0] - 1e-12) | (levels > knots[-1] + 1e-12)]
        if outside.size:
            raise ValueError(
                f"quantile level {outside[0]:g} is outside the range the model was trained "
                f"on, [{knots[0]:g}, {knots[-1]:g}] (levels {knots.tolist()}); refit with "
                f"quantiles= covering it"
            )
        columns = []
        for level in levels:
            right = int(np.clip(np.searchsorted(knots, level), 1, len(knots) - 1)) \
                if len(knots) > 1 else 0
            if np.isclose(level, knots[right], rtol=0, atol=1e-12) or len(knots) == 1:
                columns.append(table[:, :, right])
                continue
            left = right - 1
            if np.isclose(level, knots[left], rtol=0, atol=1e-12):
                columns.append(table[:, :, left])
                continue
            weight = (level - knots[left]) / (knots[right] - knots[left])
            columns.append((1.0 - weight) * table[:, :, left] + weight * table[:, :, right])
        return self._layout(self._unscale(np.stack(columns, axis=-1)))

    def predict_interval(self, X, coverage=0.95, families=None):
        """Central prediction interval: quantiles at ``(1 -/+ coverage) / 2``.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, n_features)
            Windows laid out as in ``fit``.
        coverage : float, default=0.95
            Nominal coverage, strictly inside (0, 1). The seed's ``1 - alpha``.
        families : array-like of shape (n_samples,), default=None
            Family of each window; required when fitted with families.

        Returns
        -------
        y_interval : ndarray
            The layout of ``predict`` with a last axis (lower, upper).
        """
        coverage = check_coverage(coverage)
        levels = [(1.0 - coverage) / 2.0, (1.0 + coverage) / 2.0]
        return self.predict_quantiles(X, levels, families=families)

    @available_if(_is_gaussian)
    def predict_std(self, X, families=None):
        """Forecast standard deviation of the Gaussian heads (``distribution="gaussian"``).

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, n_features)
            Windows laid out as in ``fit``.
        families : array-like of shape (n_samples,), default=None
            Family of each window; required when fitted with families.

        Returns
        -------
        y_std : ndarray
            In the layout of ``predict``, in the units of ``y``.
        """
        out = self._network_outputs(X, families)
        return self._layout(self._unscale(out[:, 1], shift=False))

    @available_if(_has_attention)
    def get_attention(self, X, families=None):
        """Self-attention weights of every window (extractors "attention", "transformer").

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, n_features)
            Windows laid out as in ``fit``.
        families : array-like of shape (n_samples,), default=None
            Family of each window; required when fitted with families (the weights do
            not depend on it: the embedding joins after the extractor).

        Returns
        -------
        attention : ndarray of shape (n_samples, window, window)
            Row ``i`` holds the softmax weights with which date ``i`` of the window
            (0 = oldest) attends to every date; rows sum to one.
        """
        _, attention = self._network_outputs(X, families, return_attention=True)
        return attention

    def get_features(self, X, families=None):
        """Learned features ``(e, x_t)``: the family embedding and the flattened extractor output.

        These are the features the heads read (before dropout), analysed by PCA in
        section 5 of the seed.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, n_features)
            Windows laid out as in ``fit``.
        families : array-like of shape (n_samples,), default=None
            Family of each window; required when fitted with families.

        Returns
        -------
        features : ndarray of shape (n_samples, embedding_size + window * units)
            The embedding first, then the extractor sequence flattened date by date.
        """
        _, features = self._network_outputs(X, families, return_features=True)
        return features

    def score(self, X, y, sample_weight=None, families=None):
        """R^2 of ``predict`` over all outputs (uniform average).

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, n_features)
            Windows laid out as in ``fit``.
        y : array-like
            True targets, in the layout given to ``fit``.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        families : array-like of shape (n_samples,), default=None
            Family of each window; required when fitted with families.

        Returns
        -------
        score : float
        """
        y_pred = self.predict(X, families=families)
        n_samples = y_pred.shape[0]
        return r2_score(np.reshape(y, (n_samples, -1)), y_pred.reshape(n_samples, -1),
                        sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.multi_output = True
        tags.regressor_tags.poor_score = True
        return tags
