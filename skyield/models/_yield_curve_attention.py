"""YC_ATT, the multiple-yield-curve quantile forecaster, as a scikit-learn regressor."""

from numbers import Integral, Real

import numpy as np

from skyield.models._yc_base import (
    DISTRIBUTIONS,
    EXTRACTORS,
    OUTPUT_ACTIVATIONS,
    SPREAD_ACTIVATIONS,
    YC_TRAINING_CONSTRAINTS,
    _YieldCurveNetBase,
)
from skyield.utils import (
    Interval,
    Options,
    Satisfies,
    check_increasing_levels,
    check_maturities,
)

__all__ = ["YieldCurveAttentionRegressor"]


def _is_range(value):
    low, high = (float(v) for v in value)
    return np.isfinite(low) and np.isfinite(high) and low < high


def _are_levels(value):
    return check_increasing_levels(value).size > 0


def check_residual_targets(estimator):
    """With ``residual=True`` the targets must be the input curves (at every horizon).

    The skip connection adds the window's last curve to every horizon's output, which
    is meaningful only when ``y`` holds the same series as the windows.
    """
    if not estimator.architecture_["residual"]:
        return
    n_series, targets = estimator.n_series_in_, estimator.targets_
    if targets is None or not np.array_equal(targets, np.arange(n_series)):
        named = "" if targets is None else f" (targets={targets.tolist()})"
        raise ValueError(
            f"{type(estimator).__name__}: residual=True forecasts the change from the "
            f"window's last curve, so y must hold the {n_series} input series, in order, "
            f"at each horizon; got {estimator.target_layout_.n_targets} target "
            f"column(s){named}"
        )


class YieldCurveAttentionRegressor(_YieldCurveNetBase):
    """Joint point and quantile forecasts of several yield-curve families (YC_ATT).

    Each sample is a window of the last ``window`` curves of one family, ``(window,
    n_series)``, with its family label; the target is the next curve. A feature
    extractor reads the window (``extractor``), its output sequence is flattened and
    goes through dropout, a learned embedding of the family is joined to it, and output
    heads give a central forecast and quantiles for every maturity:

    - ``centre = g(b_c + U_c e + W_c x)``                                   (4.1)
    - ``lower = centre - phi_plus(b_lb + U_lb e + W_lb x)``                (4.2)
    - ``upper = centre + phi_plus(b_ub + U_ub e + W_ub x)``                (4.3)

    with ``g`` and ``phi_plus`` sigmoids by default, so quantiles never cross. Beyond
    the two levels of the seed, any increasing set of ``quantiles`` is built from the
    centre by cumulative positive increments, so every quantile sequence is
    non-decreasing by construction. The loss is eq. 4.4: pinball losses at the levels
    plus ``h_gamma`` of the centre (``gamma=1``: absolute error, the centre is the
    median; ``gamma=2``: squared error, the mean). ``distribution="gaussian"`` replaces
    the quantile heads by a mean and a standard deviation trained on the Gaussian
    negative log-likelihood (YC_ATT_DE of section 6.1; average several seeds with
    :class:`skyield.ensemble.SeedEnsemble` for the deep ensemble).

    Yields are min-max scaled with one minimum and maximum over the training windows
    and targets (the training span only) and every output is mapped back. With the
    default sigmoid ``g`` the central forecast stays inside the training range mapped
    through ``feature_range``; a narrower ``feature_range`` such as (0.1, 0.9) leaves
    room outside it, ``output_activation="linear"`` removes the bound.

    ``residual=True`` (beyond the seed) lets the heads forecast the change from the
    window's last curve: a skip connection adds that curve back, ``centre = y_last +
    g(.) - g(0)``, so a network whose heads output zero is the random walk. The
    quantiles are built from this centre as above.

    Parameters
    ----------
    window : int, default=None
        Dates per window (the seed's ``L + 1``); required to read a 2-D ``X`` (each row a
        window flattened in time-major order). 3-D ``X`` carries its own.
    horizons : int or list of int, default=None
        Steps ahead held by the horizon axis of ``y``; None means ``1 .. n_horizons``.
    targets : int, list of int or None, default=None
        Positions among the input series of the series ``y`` holds; only checked.
    extractor : {"attention", "conv", "lstm", "transformer"}, default="attention"
        Feature extractor: self-attention with time-distributed tanh query, key and
        value (YC_ATT); a kernel-1 causal convolution (YC_CONV); an LSTM returning every
        date (YC_LSTM); the listing's convolution + attention + residual + feed-forward
        block (YC_TRANS).
    units : int, default=8
        Width of the extractor (the seed's ``q_A``).
    embedding_size : int, default=5
        Size of the family embedding (``q_I``); 0 for none.
    dropout : float, default=0.5
        Dropout rate on the flattened features (``p_1^(att)``).
    quantiles : array-like of shape (n_quantiles,), default=(0.025, 0.975)
        Strictly increasing levels of the quantile heads; the default gives the 95%
        interval of the seed (``alpha = 0.05``). :meth:`predict_quantiles` interpolates
        between them (and the median centre, ``gamma=1``) and refuses levels outside
        their range. Unused with ``distribution="gaussian"``.
    gamma : {1, 2}, default=1
        Loss of the centre: absolute error (median) or squared error (mean).
    distribution : {"quantile", "gaussian"}, default="quantile"
        Quantile heads (eq. 4.4) or Gaussian mean and standard deviation (section 6.1).
    output_activation : {"sigmoid", "linear"}, default="sigmoid"
        ``g``, the activation of the centre (and of the Gaussian mean).
    spread_activation : {"sigmoid", "softplus"}, default="sigmoid"
        ``phi_plus``, the positive activation of the quantile increments (and of the
        Gaussian standard deviation).
    feature_range : tuple of (float, float), default=(0.0, 1.0)
        Range that the training minimum and maximum yields are mapped to.
    residual : bool, default=False
        Forecast the change from the last curve of the window (skip connection) instead
        of the level; ``y`` must then hold the input series (at one or more horizons).
        With the sigmoid ``g`` the change per output is bounded by half the scaled
        training range; ``output_activation="linear"`` removes the bound. False is the
        seed's architecture.
    maturities : array-like of shape (n_series,), default=None
        Maturities of the input series in years. Recorded as ``maturities_``; a
        :class:`TransferredCurveRegressor` uses them to start its adapter from linear
        interpolation between grids. Not used in training.
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
        Hold out the most recent ``validation_fraction`` of the windows (after
        ``validation_gap`` windows) and stop when their loss has not improved for
        ``patience`` epochs, restoring the best weights.
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
        Device to train on; ``"auto"`` picks CUDA when available.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, dropout masks and batch shuffling. A fixed value gives
        bit-identical predictions on the CPU.
    verbose : int, default=0
        skorch's epoch log when positive.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The fitted net; its module is a
        :class:`skyield.nn._yield_curve_attention.YieldCurveAttentionNet`.
    architecture_ : dict
        The validated architecture (extractor, units, embedding_size, dropout,
        quantiles, gamma, distribution, output_activation, spread_activation,
        feature_range, residual).
    quantiles_ : ndarray of shape (n_quantiles,)
        Levels of the quantile heads.
    families_ : ndarray of shape (n_families,) or None
        Family labels in order of first appearance; None when fitted without families.
    scaler_ : skyield.preprocessing.SeriesMinMaxScaler
        Global min-max scaler fitted on the training windows and targets.
    maturities_ : ndarray of shape (n_series,) or None
        Maturities of the input series in years, when given.
    n_features_in_ : int
        Number of features (second axis of ``X``) seen in ``fit``.
    n_series_in_ : int
        Series per window date.
    window_ : int
        Window length seen in ``fit``.
    n_outputs_ : int
        Outputs per head (``horizon * n_targets`` of ``y``).
    n_epochs_ : int
        Epochs run (fewer than ``epochs`` after early stopping).

    See Also
    --------
    TransferredCurveRegressor : The fitted extractor moved to new families and grids.
    skyield.ensemble.SeedEnsemble : Averaging ensembles and deep ensembles of seeds.
    skyield.baselines.DynamicNelsonSiegel : The NS/NSS AR/VAR benchmarks.

    Notes
    -----
    ``families`` is sample metadata: with scikit-learn's metadata routing enabled,
    ``set_fit_request(families=True)``, ``set_predict_request(families=True)`` and
    ``set_score_request(families=True)`` route it through ``GridSearchCV``; the skyield
    scorers pass it on to :meth:`predict_quantiles` and :meth:`predict_interval`.

    References
    ----------
    Richman, R. and Scognamiglio, S. (2024). Multiple yield curve modeling and
    forecasting using deep learning. ASTIN Bulletin 54(3), 463-494: section 4
    (architecture, eqs. 4.1-4.4), section 5 (min-max scaling, Table 2), section 6.1
    (deep ensembles), appendix A.3 (the Keras listing).

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.models import YieldCurveAttentionRegressor
    >>> rng = np.random.RandomState(0)
    >>> curves = 2.0 + 0.1 * rng.normal(size=(80, 3)).cumsum(axis=0)
    >>> X = np.stack([curves[i:i + 4] for i in range(75)])      # (75, 4, 3)
    >>> y = curves[4:79]                                         # next curve
    >>> families = np.where(np.arange(75) % 2, "EUR", "USD")
    >>> model = YieldCurveAttentionRegressor(units=4, epochs=2, random_state=0)
    >>> model = model.fit(X, y, families=families)
    >>> model.predict(X, families=families).shape
    (75, 3)
    >>> bounds = model.predict_interval(X, coverage=0.95, families=families)
    >>> bounds.shape, bool(np.all(bounds[..., 0] <= bounds[..., 1]))
    ((75, 3, 2), True)
    >>> model.get_attention(X, families=families).shape
    (75, 4, 4)
    """

    _parameter_constraints = {
        **YC_TRAINING_CONSTRAINTS,
        "extractor": [Options(*EXTRACTORS)],
        "units": [Interval(Integral, 1, None)],
        "embedding_size": [Interval(Integral, 0, None)],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "quantiles": [Satisfies(_are_levels, "strictly increasing levels in (0, 1)")],
        "gamma": [Options(1, 2)],
        "distribution": [Options(*DISTRIBUTIONS)],
        "output_activation": [Options(*OUTPUT_ACTIVATIONS)],
        "spread_activation": [Options(*SPREAD_ACTIVATIONS)],
        "feature_range": [Satisfies(_is_range, "a pair (low, high) of numbers, low < high")],
        "residual": ["boolean"],
        "maturities": [None, "array-like"],
    }

    def __init__(self, *, window=None, horizons=None, targets=None, extractor="attention",
                 units=8, embedding_size=5, dropout=0.5, quantiles=(0.025, 0.975), gamma=1,
                 distribution="quantile", output_activation="sigmoid",
                 spread_activation="sigmoid", feature_range=(0.0, 1.0), residual=False,
                 maturities=None, epochs=100, batch_size=32, lr=1e-3, weight_decay=0.0,
                 early_stopping=False,
                 validation_fraction=0.1, validation_gap=0, patience=10, warm_start=False,
                 device="cpu", random_state=None, verbose=0):
        self.window = window
        self.horizons = horizons
        self.targets = targets
        self.extractor = extractor
        self.units = units
        self.embedding_size = embedding_size
        self.dropout = dropout
        self.quantiles = quantiles
        self.gamma = gamma
        self.distribution = distribution
        self.output_activation = output_activation
        self.spread_activation = spread_activation
        self.feature_range = feature_range
        self.residual = residual
        self.maturities = maturities
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

    def _extractor_name(self):
        return self.extractor

    def _distribution_name(self):
        return self.distribution

    def _architecture(self):
        return dict(
            extractor=self.extractor, units=int(self.units),
            embedding_size=int(self.embedding_size), dropout=float(self.dropout),
            quantiles=tuple(float(q) for q in check_increasing_levels(self.quantiles)),
            gamma=int(self.gamma), distribution=self.distribution,
            output_activation=self.output_activation,
            spread_activation=self.spread_activation,
            feature_range=tuple(float(v) for v in self.feature_range),
            residual=bool(self.residual),
        )

    def _module_params(self):
        return dict(super()._module_params(), residual=self.architecture_["residual"])

    def _prepare_training(self, X, y, families):
        inputs, targets = super()._prepare_training(X, y, families)
        check_residual_targets(self)
        self.maturities_ = None if self.maturities is None else \
            check_maturities(self.maturities, self.n_series_in_)
        return inputs, targets

    @classmethod
    def get_test_params(cls):
        """Tiny configurations for the common estimator checks.

        Returns
        -------
        params : list of dict
        """
        return [
            {"window": 1, "units": 4, "embedding_size": 2, "epochs": 2, "random_state": 0},
            {"window": 1, "extractor": "transformer", "units": 4, "epochs": 2, "gamma": 2,
             "quantiles": (0.1, 0.5, 0.9), "early_stopping": True, "patience": 1,
             "validation_fraction": 0.2, "random_state": 0},
            {"window": 1, "extractor": "lstm", "units": 4, "epochs": 2,
             "distribution": "gaussian", "output_activation": "linear", "random_state": 0},
        ]
