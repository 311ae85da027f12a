"""Transfer of a fitted YC_ATT extractor to new curve families and maturity grids."""

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted

from skyield.models._yc_base import YC_TRAINING_CONSTRAINTS, _YieldCurveNetBase
from skyield.models._yield_curve_attention import (
    YieldCurveAttentionRegressor,
    check_residual_targets,
)
from skyield.utils import HasMethods, Options, check_maturities

__all__ = ["TransferredCurveRegressor"]

_ADAPTER_INITS = ("auto", "interpolate", "random")


def interpolation_matrix(source_grid, target_grid):
    """Weights mapping values on ``target_grid`` to ``source_grid`` by linear interpolation.

    Parameters
    ----------
    source_grid : ndarray of shape (n_source,)
        Maturities the result is evaluated at.
    target_grid : ndarray of shape (n_target,)
        Maturities the values are given at (increasing).

    Returns
    -------
    weights : ndarray of shape (n_source, n_target)
        ``weights @ values`` interpolates linearly, flat beyond the ends of
        ``target_grid``.
    """
    eye = np.eye(len(target_grid))
    return np.stack([np.interp(source_grid, target_grid, eye[j])
                     for j in range(len(target_grid))], axis=1)


class TransferredCurveRegressor(_YieldCurveNetBase):
    """A fitted YC_ATT model moved to new curve families and a new maturity grid.

    The feature extractor of ``source`` (query, key and value layers and the attention
    scale for YC_ATT; the convolution, LSTM or transformer block for the variants) is
    reused. ``fit`` learns what is new (section 6.2 of the seed):

    - an *adapter*, a time-distributed linear layer mapping each date's curve on the new
      grid (``n_series`` maturities) to the source grid the extractor was trained on;
    - a new family embedding for the new families;
    - new output heads, sized to the new targets.

    With ``fine_tune=False`` (the seed's setting) the extractor's parameters are frozen:
    they stay bit-identical to the source's. ``fine_tune=True`` trains them too,
    starting from the source values. The architecture (extractor, units, embedding size,
    dropout, quantile levels, gamma, distribution, activations, feature range, residual
    skip connection) is the source's; with ``residual=True`` the skip passes the new
    window's last curve, on the new grid, to the new heads. Scaling is refitted on the
    new training data, so the new yields are min-max scaled on their own training span.

    With ``warm_start=True`` a refit of a fitted model starts from its own previous
    network (adapter, embedding, heads, and the extractor as fine-tuned, or the
    source's when frozen) rather than from the source and a new adapter.

    The extractor reads a sequence of any length, so the new windows may be longer or
    shorter than the source's; only the heads (new anyway) depend on it.

    The source must be fitted. Pass it wrapped in :class:`sklearn.frozen.FrozenEstimator`
    to keep it fitted through :func:`sklearn.base.clone` (``GridSearchCV``,
    :class:`skyield.ensemble.SeedEnsemble`); a bare fitted source works for a direct
    ``fit`` but a clone of this estimator would hold an unfitted copy of it.

    Parameters
    ----------
    source : YieldCurveAttentionRegressor or FrozenEstimator of one
        The fitted source model. It is never modified.
    window : int, default=None
        Dates per window; required to read a 2-D ``X`` (each row a window flattened in
        time-major order).
    horizons : int or list of int, default=None
        Steps ahead held by the horizon axis of ``y``; None means ``1 .. n_horizons``.
    targets : int, list of int or None, default=None
        Positions among the input series of the series ``y`` holds; only checked.
    maturities : array-like of shape (n_series,), default=None
        Maturities of the new input series in years.
    fine_tune : bool, default=False
        Train the extractor too (from the source's values) instead of freezing it.
    adapter_init : {"auto", "interpolate", "random"}, default="auto"
        Start of the adapter: ``"interpolate"`` sets it to linear interpolation from the
        new grid onto the source grid (flat beyond the ends; needs ``maturities`` and the
        source's ``maturities_``), ``"random"`` to Glorot-uniform weights, ``"auto"``
        interpolates when both grids are known.
    epochs : int, default=100
        Maximum number of passes over the training windows.
    batch_size : int, default=32
        Mini-batch size; training batches are shuffled.
    lr : float, default=1e-3
        Adam's learning rate.
    weight_decay : float, default=0.0
        Adam's (coupled) weight decay on every weight and bias: the gradient of the L2
        penalty ``(weight_decay / 2) * sum(w ** 2)``, i.e. Keras' ``l2(weight_decay / 2)``;
        0, the seed's setting, has none.
    early_stopping : bool, default=False
        Stop on the loss of the most recent windows, as in
        :class:`YieldCurveAttentionRegressor`.
    validation_fraction : float, default=0.1
        Share of windows in the validation tail (with early stopping only).
    validation_gap : int, default=0
        Windows dropped between the training rows and the validation tail.
    patience : int, default=10
        Epochs without improvement before stopping.
    warm_start : bool, default=False
        When the model is fitted, start the next ``fit`` from its weights (fine-tuning
        for ``epochs`` epochs) instead of new random ones; the scaling is fitted again on
        the new training windows and Adam starts afresh. Families are matched by label
        (a new family gets a new embedding); the architecture, series and targets must
        not change.
    device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"
        Device to train on.
    random_state : int, RandomState instance or None, default=None
        Seeds the new layers, dropout masks and batch shuffling.
    verbose : int, default=0
        skorch's epoch log when positive.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The fitted net; ``net_.module_.extractor`` holds the transferred extractor and
        ``net_.module_.adapter`` the adapter.
    source_ : YieldCurveAttentionRegressor
        The source model (unwrapped).
    frozen_parameters_ : list of str
        Names of the extractor parameters kept frozen (empty with ``fine_tune=True``).
    adapter_init_ : {"interpolate", "random"}
        How the adapter was started.
    architecture_, quantiles_, families_, scaler_, n_features_in_, n_series_in_, \
window_, n_outputs_, n_epochs_
        As in :class:`YieldCurveAttentionRegressor`.
    maturities_ : ndarray of shape (n_series,) or None
        Maturities of the new input series, when given.

    See Also
    --------
    YieldCurveAttentionRegressor : The source model.

    References
    ----------
    Richman, R. and Scognamiglio, S. (2024). Multiple yield curve modeling and
    forecasting using deep learning. ASTIN Bulletin 54(3), 463-494, section 6.2
    (transfer learning, Table 3).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.frozen import FrozenEstimator
    >>> from skyield.models import TransferredCurveRegressor, YieldCurveAttentionRegressor
    >>> rng = np.random.RandomState(0)
    >>> curves = 2.0 + 0.1 * rng.normal(size=(60, 3)).cumsum(axis=0)
    >>> X = np.stack([curves[i:i + 4] for i in range(55)])
    >>> source = YieldCurveAttentionRegressor(units=4, epochs=2, random_state=0,
    ...                                       maturities=[1, 5, 10]).fit(X, curves[4:59])
    >>> new = 1.0 + 0.1 * rng.normal(size=(40, 2)).cumsum(axis=0)    # 2 maturities
    >>> X_new = np.stack([new[i:i + 4] for i in range(35)])
    >>> model = TransferredCurveRegressor(FrozenEstimator(source), maturities=[2, 20],
    ...                                   epochs=2, random_state=0).fit(X_new, new[4:39])
    >>> model.predict_interval(X_new).shape
    (35, 2, 2)
    >>> model.adapter_init_, len(model.frozen_parameters_) > 0
    ('interpolate', True)
    """

    _parameter_constraints = {
        **YC_TRAINING_CONSTRAINTS,
        "source": [HasMethods("predict")],
        "maturities": [None, "array-like"],
        "fine_tune": ["boolean"],
        "adapter_init": [Options(*_ADAPTER_INITS)],
    }

    def __init__(self, source, *, window=None, horizons=None, targets=None, maturities=None,
                 fine_tune=False,
                 adapter_init="auto", epochs=100, batch_size=32, lr=1e-3, weight_decay=0.0,
                 early_stopping=False, validation_fraction=0.1, validation_gap=0,
                 patience=10, warm_start=False, device="cpu", random_state=None,
                 verbose=0):
        self.source = source
        self.window = window
        self.horizons = horizons
        self.targets = targets
        self.maturities = maturities
        self.fine_tune = fine_tune
        self.adapter_init = adapter_init
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.validation_gap = validation_gap
        self.patience = patience
        self.warm_start = warm_start
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _source_model(self):
        source = self.source
        if isinstance(source, FrozenEstimator):
            source = source.estimator
        if not isinstance(source, YieldCurveAttentionRegressor):
            raise TypeError(
                f"source must be a fitted YieldCurveAttentionRegressor (optionally wrapped "
                f"in sklearn.frozen.FrozenEstimator), got {type(source).__name__}"
            )
        check_is_fitted(source, "net_", msg=(
            "source is not fitted: fit the YieldCurveAttentionRegressor on the source "
            "families first (wrap it in sklearn.frozen.FrozenEstimator so that clones of "
            "this estimator keep it fitted)"
        ))
        return source

    def _extractor_name(self):
        try:
            return self._source_model().architecture_["extractor"]
        except (TypeError, ValueError, AttributeError):
            return None

    def _distribution_name(self):
        try:
            return self._source_model().architecture_["distribution"]
        except (TypeError, ValueError, AttributeError):
            return None

    def _architecture(self):
        return dict(self._source_model().architecture_)

    def _prepare_training(self, X, y, families):
        source = self._source_model()
        inputs, targets = super()._prepare_training(X, y, families)
        check_residual_targets(self)
        self.source_ = source
        self.maturities_ = None if self.maturities is None else \
            check_maturities(self.maturities, self.n_series_in_)
        grids_known = self.maturities_ is not None and source.maturities_ is not None
        if self.adapter_init == "interpolate" and not grids_known:
            missing = "maturities" if self.maturities_ is None else "the source's maturities_"
            raise ValueError(
                f"adapter_init='interpolate' needs both maturity grids, but {missing} is "
                f"None; pass maturities= (years) to both models or use adapter_init='random'"
            )
        self.adapter_init_ = "interpolate" if (
            self.adapter_init == "interpolate" or (self.adapter_init == "auto" and grids_known)
        ) else "random"
        return inputs, targets

    def _module_params(self):
        return dict(super()._module_params(), adapter_outputs=self.source_.n_series_in_,
                    residual=self.architecture_["residual"])

    def _initialize_net(self, net):
        net.initialize()
        module = net.module_
        source_extractor = self.source_.net_.module_.extractor
        module.extractor.load_state_dict(
            {name: value.detach().to(net.device)
             for name, value in source_extractor.state_dict().items()}
        )
        if self.adapter_init_ == "interpolate":
            weights = interpolation_matrix(self.source_.maturities_, self.maturities_)
            with torch.no_grad():
                module.adapter.weight.copy_(torch.as_tensor(weights, dtype=torch.float32))
                module.adapter.bias.zero_()
        self._load_warm_start(net)
        self.frozen_parameters_ = []
        if not self.fine_tune:
            module.extractor.requires_grad_(False)
            self.frozen_parameters_ = [f"extractor.{name}"
                                       for name, _ in module.extractor.named_parameters()]
            net.initialize_optimizer()
        return net

    @classmethod
    def get_test_params(cls):
        """Tiny configurations for the common estimator checks (a tiny fitted source).

        Returns
        -------
        params : list of dict
        """
        rng = np.random.RandomState(0)
        curves = 2.0 + 0.1 * rng.normal(size=(40, 3)).cumsum(axis=0)
        X = np.stack([curves[i:i + 4] for i in range(36)])
        source = YieldCurveAttentionRegressor(units=4, embedding_size=2, epochs=1,
                                              random_state=0).fit(X, curves[4:40])
        return [
            {"source": FrozenEstimator(source), "window": 1, "epochs": 2, "random_state": 0},
            {"source": FrozenEstimator(source), "window": 1, "fine_tune": True, "epochs": 2,
             "random_state": 0},
        ]
