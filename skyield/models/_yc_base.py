"""Shared machinery of the multiple-yield-curve estimators (YC_ATT and its transfer).

:class:`~skyield.models._yield_curve_attention.YieldCurveAttentionRegressor` and
:class:`~skyield.models._yc_transfer.TransferredCurveRegressor` train the same network
(:class:`skyield.nn.YieldCurveAttentionNet`) in the same way and predict through the same
methods; they differ only in where the architecture comes from and in how the network is
initialised. This module holds what they share, on top of
:class:`skyield.base.BaseFamilyWindowRegressor` (validation, target layout, ``families``):

- the family codes (one label per window; an unseen family at predict time is an error
  naming it);
- min-max scaling with one global minimum and maximum over the training windows and
  targets (seed 001, section 5), fitted on the training part only (without the
  validation tail of early stopping) and inverted on every output;
- the skorch net (a ``NeuralNet`` with the quantile or Gaussian loss, Adam, and the
  chronological validation tail of :mod:`skyield.models._base` for early stopping);
- the central forecast, quantiles, ``predict_std``, ``get_attention`` and
  ``get_features``.

The training steps are split into hooks (``_training_setup``, ``_new_net``,
``_initialize_net``, ``_finish_fit``) so that :mod:`skyield.ensemble` can train several
members as one batched model and hand each its fitted net.

``warm_start=True`` starts a refit from the previous fit's weights, as for every network
estimator (see :mod:`skyield.models._base`): the min-max scaling is fitted again on the
new training part, Adam starts afresh. The family embedding is matched by family label:
a family the previous fit knew keeps its embedding, a new one gets a fresh random one.
"""

import copy

import numpy as np
import pandas as pd
import torch
from scipy.stats import norm
from sklearn.utils.metaestimators import available_if
from skorch import NeuralNet

from skyield.base import BaseFamilyWindowRegressor, BaseWindowRegressor
from skyield.models._base import (
    TRAINING_CONSTRAINTS,
    ChronologicalTailSplit,
    early_stopping,
    load_previous_weights,
    previous_weights,
    quantiles_from_knots,
    release_generator,
)
from skyield.nn import GaussianNLL, QuantileCenterLoss, YieldCurveAttentionNet
from skyield.preprocessing import SeriesMinMaxScaler
from skyield.utils import resolve_device, restore_target_layout, torch_seed

__all__ = []

EXTRACTORS = ("attention", "conv", "lstm", "transformer")
DISTRIBUTIONS = ("quantile", "gaussian")
OUTPUT_ACTIVATIONS = ("sigmoid", "linear")
SPREAD_ACTIVATIONS = ("sigmoid", "softplus")
_PREDICT_BATCH = 1024

#: Constraints of the training parameters both estimators share.
YC_TRAINING_CONSTRAINTS = {
    **{name: BaseWindowRegressor._parameter_constraints[name]
       for name in ("window", "horizons", "targets")},
    **TRAINING_CONSTRAINTS,
}


def _has_attention(estimator):
    return estimator._extractor_name() in ("attention", "transformer")


def _is_gaussian(estimator):
    return estimator._distribution_name() == "gaussian"


class _YieldCurveNetBase(BaseFamilyWindowRegressor):
    """Fit and predict of the YC_ATT network; subclasses supply the architecture.

    Subclasses implement ``_architecture()`` (the architecture dict, after their own
    checks), ``_extractor_name()``, ``_distribution_name()`` and may extend
    ``_module_params`` and ``_initialize_net``. They store the parameters of
    ``YC_TRAINING_CONSTRAINTS``.
    """

    # ------------------------------------------------------------------ hooks
    def _architecture(self):
        raise NotImplementedError

    def _extractor_name(self):
        raise NotImplementedError

    def _distribution_name(self):
        raise NotImplementedError

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
        self._load_warm_start(net)
        return net

    def _load_warm_start(self, net):
        """With a warm start, overwrite the new weights with the previous fit's.

        The family embedding is matched by label; a family the previous fit did not
        know keeps the new random embedding.
        """
        previous = self.__dict__.pop("_warm_state", None)
        if previous is None:
            return
        weights, old_families = previous
        weights = dict(weights)
        embedding = getattr(net.module_, "embedding", None)
        if embedding is not None and "embedding.weight" in weights:
            old = [None] if old_families is None else list(old_families)
            new = [None] if self.families_ is None else list(self.families_)
            rows = embedding.weight.detach().cpu().clone()
            stored = weights["embedding.weight"]
            for row, label in enumerate(new):
                if label in old and stored.shape[1:] == rows.shape[1:]:
                    rows[row] = stored[old.index(label)]
            weights["embedding.weight"] = rows
        load_previous_weights(net.module_, weights, type(self).__name__)

    # ------------------------------------------------------------------ families
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

    # ------------------------------------------------------------------ training
    def _split(self):
        if not self.early_stopping:
            return None
        return ChronologicalTailSplit(self.validation_fraction, self.validation_gap)

    def _prepare_training(self, X, y, families):
        """Fit the scaler on the training part, set the attributes, return the net input."""
        # The previous fit's weights and families, taken before this fit replaces them;
        # _initialize_net consumes them (a transient attribute, so that the batched
        # training of skyield.ensemble, which calls the hooks, warm-starts too).
        weights = previous_weights(self)
        self._warm_state = None if weights is None else (weights, self.families_)
        self.architecture_ = self._architecture()
        n_samples = X.shape[0]
        codes = self._family_codes(families, n_samples, fitting=True)
        split = self._split()
        # The scaler learns from the training part only: the validation tail of early
        # stopping is data the fit must not have seen.
        n_train = n_samples if split is None else split.train_size(n_samples)
        scaler = SeriesMinMaxScaler(feature_range=self.architecture_["feature_range"],
                                    scope="global")
        scaler.fit(np.concatenate([X[:n_train].ravel(), y[:n_train].ravel()])[:, None])
        self.quantiles_ = np.asarray(self.architecture_["quantiles"], dtype=float)
        self.n_outputs_ = y.shape[1] * y.shape[2]
        self.scaler_ = scaler
        inputs = {"yields": self._scale(X), "family": codes}
        targets = self._scale(y.reshape(n_samples, -1))
        return inputs, targets

    def _training_setup(self, X, y, families):
        """Validate the data and prepare the net input (the batched-training hook)."""
        inputs, targets = self._validate_fit_data(X, y)
        return self._prepare_training(inputs, targets, families)

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
        train_split = self._split()
        if train_split is not None:
            warm = getattr(self, "_warm_state", None) is not None
            callbacks.append(early_stopping(self.patience, warm))
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
            # Adam's coupled decay: the gradient of (weight_decay / 2) * sum(w ** 2).
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

    def _finish_fit(self, net, n_epochs):
        self.net_ = release_generator(net)
        self.n_epochs_ = int(n_epochs)
        return self

    def _fit(self, X, y, families=None):
        inputs, targets = self._prepare_training(X, y, families)
        device = resolve_device(self.device)
        with torch_seed(self.random_state, device) as generator:
            net = self._initialize_net(self._new_net(device, generator))
            net.partial_fit(inputs, targets)
        self._finish_fit(net, len(net.history))

    # ------------------------------------------------------------------ prediction
    def _network_outputs(self, X, families, **forward_kwargs):
        """Outputs of the fitted module on model inputs ``X``, scaled units, float64."""
        codes = self._family_codes(families, X.shape[0], fitting=False)
        yields = self._scale(X, dtype=np.float64)
        # A float64 copy of the float32 weights: in float32 a window's forecast moves in
        # the last bits with the other windows of the batch (matrix-product blocking).
        module = copy.deepcopy(self.net_.module_).double().eval()
        device = self.net_.device
        outputs = []
        with torch.no_grad():
            for start in range(0, X.shape[0], _PREDICT_BATCH):
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

    def _steps_targets(self, values):
        """(n, n_outputs, ...) -> (n, n_horizons, n_targets, ...)."""
        layout = self.target_layout_
        return values.reshape((values.shape[0], layout.horizon, layout.n_targets)
                              + values.shape[2:])

    def _predict(self, X, families=None):
        out = self._network_outputs(X, families)
        return self._steps_targets(self._unscale(out[:, 0]))

    def _predict_quantiles(self, X, levels, families=None):
        out = self._network_outputs(X, families)
        if self.architecture_["distribution"] == "gaussian":
            values = out[:, 0, :, None] + out[:, 1, :, None] * norm.ppf(levels)
            return self._steps_targets(self._unscale(values))
        knots = list(self.quantiles_)
        table = out[:, 1:].transpose(0, 2, 1)
        if self.architecture_["gamma"] == 1 and 0.5 not in knots:
            # The centre is the median.
            position = int(np.searchsorted(knots, 0.5))
            knots.insert(position, 0.5)
            table = np.insert(table, position, out[:, 0], axis=2)
        values = quantiles_from_knots(np.asarray(knots), table, levels)
        return self._steps_targets(self._unscale(values))

    def _outputs_of_windows(self, X, families, **forward_kwargs):
        X3 = self._validated_windows(X)
        return self._network_outputs(X3, families, **forward_kwargs)

    @available_if(_is_gaussian)
    def predict_std(self, X, families=None):
        """Forecast standard deviation of the Gaussian heads (``distribution="gaussian"``).

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, window * n_series)
            Windows laid out as in ``fit``.
        families : array-like of shape (n_samples,), default=None
            Family of each window; required when fitted with families.

        Returns
        -------
        y_std : ndarray
            In the layout of ``predict``, in the units of ``y``.
        """
        out = self._outputs_of_windows(X, families)
        values = self._steps_targets(self._unscale(out[:, 1], shift=False))
        return restore_target_layout(values, self.target_layout_)

    @available_if(_has_attention)
    def get_attention(self, X, families=None):
        """Self-attention weights of every window (extractors "attention", "transformer").

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, window * n_series)
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
        _, attention = self._outputs_of_windows(X, families, return_attention=True)
        return attention

    def get_features(self, X, families=None):
        """Learned features ``(e, x_t)``: the family embedding and the flattened extractor output.

        These are the features the heads read (before dropout), analysed by PCA in
        section 5 of the seed.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, window * n_series)
            Windows laid out as in ``fit``.
        families : array-like of shape (n_samples,), default=None
            Family of each window; required when fitted with families.

        Returns
        -------
        features : ndarray of shape (n_samples, embedding_size + window * units)
            The embedding first, then the extractor sequence flattened date by date.
        """
        _, features = self._outputs_of_windows(X, families, return_features=True)
        return features
