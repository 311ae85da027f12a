"""The dynamic-factor Transformer of seed 002 as a scikit-learn sequence model.

``fit(Y)`` takes a panel whose rows are consecutive dates. Inside it:

- the last ``validation_fraction`` of the dates is the validation span, the rest the
  training span; windows never straddle the two (section 2.8);
- the standardisation (eq. in section 2.1), the prior factor model and a model-based
  factor initialisation are fitted on the training span only;
- every P-lag window with a next date in the same span is one example; the network of
  :class:`skyield.nn._factor_transformer.FactorTransformerNet` is trained ``n_runs`` times
  from different seeds with AdamW, a warm-up + cosine learning rate restarted every
  ``cycle_epochs``, and early stopping on the validation prediction error with the best
  epoch restored (section 3.3, Table 4); the runs train together as one stacked model
  (:mod:`skyield.models._stacked`) unless ``batched=False``;
- each run's factor is identified (sign, scale, location) by the least-absolute-deviation
  line onto the prior factor over the training span, and the runs are averaged
  (section 2.9).

The interpretation tools of sections 2.9-2.11 are methods: :meth:`get_attention`,
:meth:`attention_contributions`, :meth:`residual_stream` and :meth:`project`.

As a sequence model (:class:`skyield.base.BaseSequenceModel`) it forecasts by rolling
its window forward on its own predictions (the real-time projections of section 2.9),
with a Gaussian predictive distribution whose variance at each horizon is the mean
squared error of those projections over the validation span.
"""

import math
import numbers
import warnings

import numpy as np
import pandas as pd
import torch
from numbers import Integral, Real

from sklearn.base import TransformerMixin, clone
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.callbacks import Callback, LRScheduler
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from skyield.base import BaseSequenceModel
from skyield.metrics import factor_scaling
from skyield.models._base import (
    early_stopping,
    load_previous_weights,
    module_weights,
    release_generator,
)
from skyield.models._stacked import train_stacked
from skyield.models._factor_transformer_helpers import (
    WarmupCosineSchedule,
    factor_column,
    smooth_both_ways,
    window_view,
)
from skyield.nn import FactorTransformerLoss, FactorTransformerNet
from skyield.utils import (
    HasMethods,
    Interval,
    Options,
    resolve_device,
    seed_from_random_state,
    torch_seed,
)
from skyield.utils._dates import show_date

__all__ = ["FactorTransformer"]


_PREDICT_BATCH = 1024


def _is_column(value):
    return isinstance(value, (Integral, str)) and not isinstance(value, bool)


def _leading_missing(factor, dates=None, name="factor_init"):
    """The number of dates before a factor model's first value, the rest checked.

    A factor model may have no value at the first dates (e.g. before its own window):
    only that leading run of NaN is missing by design. A NaN after the first value, or an
    infinite value anywhere, is the model failing, and is refused.

    Parameters
    ----------
    factor : ndarray of shape (n_dates,)
    dates : Index, default=None
        The dates of ``factor``, named in errors (else positions only).
    name : str, default="factor_init"
        The parameter of the model, named in errors.

    Returns
    -------
    n_leading : int

    Raises
    ------
    ValueError
        Naming the date and position of the first NaN after the first value or the first
        infinite value, or saying that the factor has no value at all.
    """
    missing = np.isnan(factor)
    if missing.all():
        raise ValueError(f"{name}'s factor is NaN at every one of its {factor.size} dates")
    n_leading = int(np.argmax(~missing))
    bad = np.flatnonzero(~np.isfinite(factor))
    bad = bad[(bad >= n_leading) | np.isinf(factor[bad])]
    if bad.size:
        position = int(bad[0])
        where = f"position {position}" if dates is None else \
            f"date {show_date(dates[position])} (position {position})"
        what = "NaN after its first value" if missing[position] else \
            f"{factor[position]} (infinite)"
        raise ValueError(
            f"{name}'s factor is {what} at {where}; only the NaN before the model's first "
            f"value (the dates before its own window) are filled in, with the training "
            f"mean"
        )
    return n_leading


def _default_prior():
    from skyield.baselines import KalmanFactorModel

    return KalmanFactorModel(n_factors=1, error_cov="full")


class _EpochHook(Callback):
    """Reports every epoch of one run trained by skorch to ``epoch_callback``."""

    def __init__(self, model, run):
        self.model = model
        self.run = run

    def on_epoch_end(self, net, **kwargs):
        module = net.module_

        def forward(batch):
            was_training = module.training
            module.eval()
            try:
                with torch.no_grad():
                    output = module(**{k: v.to(net.device) for k, v in batch.items()})
            finally:
                module.train(was_training)
            return tuple(part[None] for part in output)

        self.model._report_epoch(len(net.history), [self.run], forward)


class FactorTransformer(TransformerMixin, BaseSequenceModel):
    """Nonlinear dynamic factor estimated by an Encoder-Encoder Transformer.

    One latent factor is estimated from ``k`` observed series. Every value of a P-lag
    window is a token; an initial factor series queries the data through State
    Encoders and is compressed to one number per lag, the factor estimate; Measurement
    Encoders must predict the next date's values from that estimate (there is no skip
    connection around their attention). Training minimises
    ``prior_weight * |factor - prior factor| + (1 - prior_weight) * |prediction error|``
    (eqs. 30-32), where the prior factor comes from a conventional factor model fitted on
    the training span, by default the linear Gaussian Kalman-filter factor model.

    Parameters
    ----------
    window : int, default=9
        Number of lags ``P`` per window (dates ``t - P + 1 .. t``).
    differences : bool, default=False
        Model the changes: the network sees the first differences of ``Y`` (each dated by
        its later date) and forecasts changes, which are added to the last level seen;
        forecasts, quantiles and projections are returned in levels. Yield levels drift
        far outside the range of the training span, which fixes the standardisation;
        their changes do not.
    d_model : int, default=32
        Size of the token representations.
    n_heads : int, default=4
        Attention heads.
    d_k : int, default=8
        Size of each head's queries, keys and values.
    d_ff : int, default=64
        Hidden size of the feed-forward networks.
    n_state_layers : int, default=1
        State Encoders ``H``.
    n_measurement_layers : int, default=1
        Measurement Encoders.
    n_initial_layers : int, default=1
        Initial self-attention Encoders over the data tokens.
    dropout : float, default=0.15
        Dropout rate.
    encoding_scale : float, default=0.5
        ``gamma`` of eq. (2), the weight of the positional and variable encodings. The
        seed asks only for ``gamma < 1``; with 0.1 the layer-normalised tokens keep
        little more than the sign of each value and the factor follows its prior less
        closely, so 0.5 is the default.
    factor_init : "mean", int, str or estimator, default="mean"
        Initial factor series (eq. 3): ``"mean"`` is the mean of the standardised series
        at each date; an int (position) or str (column label) takes one series; an
        estimator with ``fit`` and ``transform`` is cloned, fitted on the training span
        and its first factor (standardised on the training span) is used.
    prior : None, "mean" or estimator, default=None
        The factor model that supplies the prior factor of eq. (31). None is
        ``skyield.baselines.KalmanFactorModel(n_factors=1, error_cov="full")``
        (eqs. 33-35); ``"mean"`` is the mean of the standardised series; an estimator with
        ``fit`` and ``transform`` is cloned and fitted on the training span (see
        ``refit_prior``). The prior receives the rows of ``Y`` as given (a DataFrame stays
        one) and its first factor is used.
    refit_prior : bool, default=True
        If False, ``prior`` must already be fitted and is used as given (only its
        ``transform`` is called, on the training span); keeping it free of validation
        and test data is then the caller's responsibility.
    prior_weight : float, default=0.6
        ``lambda`` in [0, 1]: the weight of the prior term in the training loss. 0 trains
        on prediction errors alone, 1 on the prior alone. Early stopping monitors the
        validation prediction error; with 1, which leaves it untrained, it monitors the
        prior term instead, the prior model (fitted on the training span) filtering the
        validation span with its parameters frozen.
    standardize : bool, default=True
        Standardise each series with the mean and standard deviation of the training span.
    n_runs : int, default=1
        Training runs from different seeds whose identified factors are averaged (the
        seed uses 10 in the Monte Carlo and 20 for the coincident index).
    batched : bool, default=True
        Train the runs together as one stacked model (one forward, backward and AdamW
        step per batch for all runs, see :mod:`skyield.models._stacked`), each with its
        own initial weights, batch order, schedule and early stopping; a run that stops
        leaves the stack. False trains them one after the other with skorch. Without
        dropout both give the same runs (up to float rounding); with dropout the masks
        are other random draws.
    epochs : int, default=1000
        Maximum epochs per run.
    batch_size : int, default=32
        Training windows per batch (shuffled).
    lr : float, default=1e-4
        Peak learning rate of AdamW.
    weight_decay : float, default=0.015
        AdamW's decoupled weight decay.
    cycle_epochs : int, default=100
        ``T0``: epochs per warm-up + cosine-decay cycle of the learning rate.
    warmup_epochs : int, default=10
        Epochs of linear warm-up at the start of each cycle (not given in the seed).
    patience : int or None, default=None
        Epochs without improvement of the validation prediction error before stopping;
        None is one cycle (``cycle_epochs``).
    validation_fraction : float, default=0.2
        Share of the dates, at the end of ``Y``, held out for early stopping. 0 trains
        for ``epochs`` epochs without validation.
    warm_start : bool, default=False
        When the model is fitted, start each run of the next ``fit`` from the weights of
        the same run of the previous fit (fine-tuning for ``epochs`` epochs, the learning
        rate schedule from its start) instead of new random weights. Only the weights
        carry over: the standardisation, the prior factor model and ``factor_init``'s
        model are fitted again on the new training span, AdamW starts afresh.
        ``n_runs``, the number of series and the architecture must not change.
    device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"
        Device for training and inference.
    random_state : int, RandomState instance or None, default=None
        Seeds the runs (weights, dropout, shuffling). A fixed value gives bit-identical
        results on the CPU.
    verbose : int, default=0
        skorch's epoch log when positive (``batched=False`` only).
    epoch_callback : callable or None, default=None
        Called after every training epoch as ``epoch_callback(epoch, runs, factors)``:
        ``runs`` lists the runs trained in that epoch and ``factors(Y)`` returns their
        raw factor estimates over a panel ``Y`` at their current weights, an ndarray of
        shape (n_dates, len(runs)) laid out as :meth:`transform` (NaN before the first
        full window), before the identification of the runs. For monitoring, e.g. the
        accuracy of every epoch on simulated data ("Fit max" of section 3.2).

    Attributes
    ----------
    n_features_in_ : int
        Number of series ``k``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Series names, when ``Y`` was a DataFrame with string column labels.
    n_train_, n_valid_ : int
        Dates in the training and validation spans.
    mean_, scale_ : ndarray of shape (n_features_in_,)
        Standardisation fitted on the training span.
    prior_ : estimator or None
        The fitted prior model (None for ``prior="mean"``).
    prior_factor_ : ndarray of shape (n_train_,)
        The prior factor over the training span, standardised and oriented to correlate
        positively with the initial factor series: the training target of eq. (31) and
        the reference of the identification. Its units are those of :meth:`transform`.
    prior_mean_, prior_scale_, prior_sign_ : float
        ``prior_factor_ = prior_sign_ * (raw - prior_mean_) / prior_scale_``.
    init_model_ : estimator or None
        The fitted model behind an estimator ``factor_init``.
    nets_ : list of skorch.NeuralNet
        One fitted net per run; each module is a ``FactorTransformerNet``.
    net_ : skorch.NeuralNet
        The run with the lowest validation loss (the first without validation), used
        by the interpretation methods by default.
    best_run_ : int
        Position of ``net_`` in ``nets_``.
    run_scaling_ : ndarray of shape (n_runs, 2)
        Intercept and slope mapping each run's raw factor onto the prior factor.
    valid_loss_ : ndarray of shape (n_runs,)
        Best validation loss of each run: the prediction error (MAE in standardised
        units), or the prior term when ``prior_weight=1``; NaN without validation.
    n_epochs_ : ndarray of shape (n_runs,)
        Epochs run by each run.
    last_window_ : ndarray of shape (window + differences, n_features_in_)
        The last dates seen (levels), from which :meth:`forecast` rolls forward.
    error_levels_ : ndarray of shape (n_error_dates, n_features_in_)
        The dates whose projections measure the forecast error of each horizon: the
        validation span with the window before it, or the whole training panel
        without validation (whose in-sample errors understate those of new data).
    columns_, last_date_, freq_, n_dates_seen_
        Panel bookkeeping (see :class:`skyield.base.BaseSequenceModel`).

    See Also
    --------
    skyield.baselines.KalmanFactorModel : The linear Gaussian factor model used as prior.

    Notes
    -----
    Row ``t`` of :meth:`transform` is the factor at date ``t`` from the window of dates
    ``t - P + 1 .. t``, NaN for the first ``P - 1`` dates. Only windows of the panel
    passed are used, so to estimate a test span right after the training data pass the
    two together and keep the test rows. :meth:`forecast` rolls the window of the last
    dates seen forward on the model's own predictions, averaged over the runs;
    :meth:`predict` forecasts every date of a block that follows (see
    :class:`skyield.base.BaseSequenceModel`); the predictive distribution is Gaussian,
    with the mean squared projection error of each horizon and series over the
    validation span as variance.

    References
    ----------
    Snellman, O. "Nonlinear Dynamic Factor Analysis With a Transformer Network"
    (seed 002): sections 2.1-2.11, Table 4.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.datasets import make_dfm_process
    >>> from skyield.models import FactorTransformer
    >>> data = make_dfm_process(2, 120, random_state=0)
    >>> model = FactorTransformer(window=4, d_model=8, n_heads=2, d_k=4, d_ff=16,
    ...                           prior="mean", epochs=2, random_state=0)
    >>> factor = model.fit(data.observables).transform(data.observables)
    >>> factor.shape, int(np.isnan(factor).sum())
    ((120, 1), 3)
    >>> model.get_attention(data.observables)["state"].shape
    (120, 4, 5)
    """

    _parameter_constraints = {
        "window": [Interval(Integral, 1, None)],
        "differences": ["boolean"],
        "d_model": [Interval(Integral, 1, None)],
        "n_heads": [Interval(Integral, 1, None)],
        "d_k": [Interval(Integral, 1, None)],
        "d_ff": [Interval(Integral, 1, None)],
        "n_state_layers": [Interval(Integral, 1, None)],
        "n_measurement_layers": [Interval(Integral, 1, None)],
        "n_initial_layers": [Interval(Integral, 0, None)],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "encoding_scale": [Interval(Real, 0, None)],
        "factor_init": [Options("mean"), Interval(Integral, None, None), str,
                        HasMethods("fit", "transform")],
        "prior": [None, Options("mean"), HasMethods("fit", "transform")],
        "refit_prior": ["boolean"],
        "prior_weight": [Interval(Real, 0, 1)],
        "standardize": ["boolean"],
        "n_runs": [Interval(Integral, 1, None)],
        "epochs": [Interval(Integral, 1, None)],
        "batch_size": [Interval(Integral, 1, None)],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None)],
        "cycle_epochs": [Interval(Integral, 1, None)],
        "warmup_epochs": [Interval(Integral, 0, None)],
        "patience": [None, Interval(Integral, 1, None)],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "warm_start": ["boolean"],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": [Interval(Integral, 0, None)],
        "batched": ["boolean"],
        "epoch_callback": [None, "callable"],
    }

    def __init__(self, *, window=9, differences=False, d_model=32, n_heads=4, d_k=8, d_ff=64, n_state_layers=1,
                 n_measurement_layers=1, n_initial_layers=1, dropout=0.15,
                 encoding_scale=0.5, factor_init="mean", prior=None, refit_prior=True,
                 prior_weight=0.6, standardize=True, n_runs=1, epochs=1000, batch_size=32,
                 lr=1e-4, weight_decay=0.015, cycle_epochs=100, warmup_epochs=10,
                 patience=None, validation_fraction=0.2, warm_start=False, device="cpu",
                 random_state=None, verbose=0, batched=True, epoch_callback=None):
        self.window = window
        self.differences = differences
        self.d_model = d_model
        self.n_heads = n_heads
        self.d_k = d_k
        self.d_ff = d_ff
        self.n_state_layers = n_state_layers
        self.n_measurement_layers = n_measurement_layers
        self.n_initial_layers = n_initial_layers
        self.dropout = dropout
        self.encoding_scale = encoding_scale
        self.factor_init = factor_init
        self.prior = prior
        self.refit_prior = refit_prior
        self.prior_weight = prior_weight
        self.standardize = standardize
        self.n_runs = n_runs
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.cycle_epochs = cycle_epochs
        self.warmup_epochs = warmup_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.batched = batched
        self.epoch_callback = epoch_callback

    # ------------------------------------------------------------------ validation
    def _check_params(self):
        if self.warmup_epochs >= self.cycle_epochs:
            raise ValueError(
                f"warmup_epochs ({self.warmup_epochs}) must be shorter than cycle_epochs "
                f"({self.cycle_epochs})"
            )
        if not self.refit_prior and not hasattr(self.prior, "transform"):
            raise ValueError("refit_prior=False needs prior to be a fitted factor model")

    # ------------------------------------------------------------------ data
    def _standardized(self, values):
        return (values - self.mean_) / self.scale_

    def _init_series(self, Y, values, columns, standardized):
        """Per-date initial factor series (eq. 3), standardised on the training span."""
        init = self.factor_init
        if isinstance(init, str) and init == "mean":
            return standardized.mean(axis=1)
        if isinstance(init, (numbers.Integral, str)):
            return standardized[:, self.init_column_]
        series = factor_column(self.init_model_.transform(Y), "factor_init", values.shape[0])
        # A model's factor may be missing at the first dates (e.g. before its own window):
        # those dates start from 0, the training-span mean. Any other NaN, and any
        # infinite value, is an error.
        n_leading = _leading_missing(series, getattr(Y, "index", None))
        standardized_init = (series - self.init_mean_) / self.init_scale_
        standardized_init[:n_leading] = 0.0
        return standardized_init

    def _resolve_init_column(self, columns):
        init = self.factor_init
        if isinstance(init, str):
            if init not in columns:
                raise ValueError(
                    f"factor_init={init!r} is not a column of Y; columns are {columns}"
                )
            return columns.index(init)
        if not -len(columns) <= init < len(columns):
            raise ValueError(
                f"factor_init={init} is out of range: Y has {len(columns)} series"
            )
        return int(init) % len(columns)

    @staticmethod
    def _rows(Y, stop):
        return Y.iloc[:stop] if isinstance(Y, pd.DataFrame) else np.asarray(Y)[:stop]

    def _fit_prior(self, Y_train, n_train, init_train):
        if isinstance(self.prior, str):
            self.prior_ = None
            raw = self._standardized(np.asarray(Y_train, dtype=float)).mean(axis=1)
        else:
            if self.refit_prior:
                model = _default_prior() if self.prior is None else clone(self.prior)
                model.fit(Y_train)
            else:
                check_is_fitted(self.prior)
                model = self.prior
            self.prior_ = model
            raw = factor_column(model.transform(Y_train), "prior", n_train)
        finite = np.isfinite(raw)
        if finite.sum() < 2 or np.ptp(raw[finite]) == 0:
            raise ValueError(
                "the prior factor has fewer than two distinct finite values on the "
                "training span; choose another prior"
            )
        self.prior_mean_ = float(raw[finite].mean())
        self.prior_scale_ = float(raw[finite].std())
        standardized = (raw - self.prior_mean_) / self.prior_scale_
        both = finite & np.isfinite(init_train)
        sign = 1.0
        if both.sum() > 1 and np.ptp(init_train[both]) > 0:
            if np.corrcoef(standardized[both], init_train[both])[0, 1] < 0:
                sign = -1.0
        self.prior_sign_ = sign
        return sign * standardized

    def _prior_series(self, Y, n_dates):
        """The fitted prior's factor over a panel, in the units of ``prior_factor_``."""
        if self.prior_ is None:
            raw = self._standardized(np.asarray(Y, dtype=float)).mean(axis=1)
        else:
            raw = factor_column(self.prior_.transform(Y), "prior", n_dates)
        return self.prior_sign_ * (raw - self.prior_mean_) / self.prior_scale_

    def _examples(self, standardized, init, prior, start, stop):
        """Windows ending at ``start + P - 1 .. stop - 2`` with their next-date targets."""
        P = self.window
        windows = window_view(standardized[start:stop - 1], P)
        inits = window_view(init[start:stop - 1], P)
        targets = standardized[start + P:stop]
        if prior is None:
            priors = np.full((windows.shape[0], P), np.nan)
        else:
            priors = window_view(prior[start:stop - 1], P)
        X = {"Y": np.ascontiguousarray(windows, dtype=np.float32),
             "x_init": np.ascontiguousarray(inits, dtype=np.float32)}
        # The criterion reads the next date's k values, then the prior over the P lags.
        y = np.concatenate([targets, priors], axis=1).astype(np.float32)
        return X, y

    # ------------------------------------------------------------------ training
    def _build_net(self, n_series, n_train_windows, valid, device, generator, run=None,
                   warm=False):
        """The skorch net of one run; ``run`` given, it reports to ``epoch_callback``;
        ``warm``, its early stopping counts the starting weights as epoch 0."""
        steps_per_epoch = math.ceil(n_train_windows / self.batch_size)
        schedule = WarmupCosineSchedule(self.warmup_epochs * steps_per_epoch,
                                        self.cycle_epochs * steps_per_epoch)
        callbacks = [("lr_scheduler", LRScheduler(
            policy=torch.optim.lr_scheduler.LambdaLR, lr_lambda=schedule,
            step_every="batch"))]
        if run is not None and self.epoch_callback is not None:
            callbacks.append(("epoch_hook", _EpochHook(self, run)))
        train_split = None
        if valid is not None:
            train_split = predefined_split(Dataset(*valid))
            patience = self.cycle_epochs if self.patience is None else self.patience
            callbacks.append(early_stopping(patience, warm))
        return NeuralNet(
            module=FactorTransformerNet,
            module__n_series=n_series,
            module__window=self.window,
            module__d_model=self.d_model,
            module__n_heads=self.n_heads,
            module__d_k=self.d_k,
            module__d_ff=self.d_ff,
            module__n_initial_layers=self.n_initial_layers,
            module__n_state_layers=self.n_state_layers,
            module__n_measurement_layers=self.n_measurement_layers,
            module__dropout=self.dropout,
            module__encoding_scale=self.encoding_scale,
            criterion=FactorTransformerLoss,
            criterion__n_series=n_series,
            criterion__prior_weight=self.prior_weight,
            optimizer=torch.optim.AdamW,
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

    def fit(self, Y, y=None):
        """Train the Transformer on a panel of consecutive dates.

        Parameters
        ----------
        Y : DataFrame or array-like of shape (n_dates, n_series)
            Observed series in time order, no missing values. The last
            ``validation_fraction`` of the dates validate; the rest train.
        y : None
            Ignored.

        Returns
        -------
        self : FactorTransformer
            The fitted estimator.
        """
        # Each run's weights from the previous fit (warm start), taken before the refit.
        previous = [module_weights(net.module_) for net in self.nets_] \
            if self.warm_start and hasattr(self, "nets_") else []
        offset = int(self.differences) if isinstance(self.differences, bool) else 0
        panel = self._validate_fit_panel(Y, min_length=self.window + 1 + offset)
        self._check_params()
        levels = panel.values
        Y = self._network_series(Y, panel)
        values = levels[offset:] - levels[:-1] if offset else levels
        columns = list(panel.columns)
        n_dates, n_series = values.shape
        P = self.window
        n_valid = math.ceil(self.validation_fraction * n_dates)
        n_train = n_dates - n_valid
        if n_train < P + 1 or 0 < n_valid < P + 1:
            raise ValueError(
                f"Y has {n_dates} dates: with window={P} and validation_fraction="
                f"{self.validation_fraction} the training span has {n_train} and the "
                f"validation span {n_valid} dates, but each needs at least window + 1 = "
                f"{P + 1}; pass more dates, a shorter window or another validation_fraction"
            )
        self.n_train_, self.n_valid_ = n_train, n_valid
        train = values[:n_train]
        if self.standardize:
            self.mean_ = train.mean(axis=0)
            scale = train.std(axis=0)
            self.scale_ = np.where(scale > 0, scale, 1.0)
        else:
            self.mean_, self.scale_ = np.zeros(n_series), np.ones(n_series)
        standardized = self._standardized(values)
        Y_train = self._rows(Y, n_train)

        self.init_model_ = None
        self.init_column_ = None
        init = self.factor_init
        if isinstance(init, (numbers.Integral, str)) and not (isinstance(init, str)
                                                               and init == "mean"):
            self.init_column_ = self._resolve_init_column(columns)
        elif not isinstance(init, str):
            self.init_model_ = clone(init).fit(Y_train)
            raw = factor_column(self.init_model_.transform(Y_train), "factor_init", n_train)
            # The mean and scale of the values after the leading NaN (refused elsewhere).
            raw = raw[_leading_missing(raw, getattr(Y_train, "index", None)):]
            self.init_mean_, self.init_scale_ = float(np.mean(raw)), float(np.std(raw))
            if not self.init_scale_ > 0:
                raise ValueError("factor_init's factor is constant on the training span")
        # The init series is needed over the whole panel, but only the training rows
        # reach the prior and only models fitted on the training rows produce it.
        init_series = self._init_series(Y, values, columns, standardized)
        self.prior_factor_ = self._fit_prior(Y_train, n_train, init_series[:n_train])

        X_train, y_train = self._examples(standardized, init_series, self.prior_factor_,
                                          0, n_train)
        valid = None
        if n_valid:
            # Validation monitors the prediction error; only with prior_weight=1 does it
            # monitor the prior term, filtered over the validation span by the prior model
            # fitted on the training span (frozen parameters).
            valid_prior = self._prior_series(Y, n_dates) if self.prior_weight == 1 else None
            valid = self._examples(standardized, init_series, valid_prior, n_train, n_dates)

        device = resolve_device(self.device)
        if previous and len(previous) != self.n_runs:
            raise ValueError(
                f"FactorTransformer(warm_start=True) starts every run from the previous "
                f"fit, which has {len(previous)} run(s), not n_runs={self.n_runs}: fit "
                f"with warm_start=False"
            )
        train_runs = self._train_stacked if self.batched else self._train_one_by_one
        self.nets_, n_epochs, valid_loss = train_runs(X_train, y_train, valid, n_series,
                                                      device, previous)
        self.valid_loss_ = np.asarray(valid_loss, dtype=float)
        self.n_epochs_ = np.asarray(n_epochs)
        self.best_run_ = int(np.argmin(self.valid_loss_)) if n_valid else 0
        self.net_ = self.nets_[self.best_run_]
        self.run_scaling_ = self._identify(standardized[:n_train], init_series[:n_train])
        # The state of the sequence model: the last window of levels seen; and the levels
        # whose projections measure the forecast errors (the validation span with the
        # window before its first origin, or the whole panel without validation).
        context = P + offset
        self.last_window_ = levels[-context:]
        self.error_levels_ = levels[n_train + offset - context:] if n_valid else levels
        self._error_scales = {}
        return self

    def _train_one_by_one(self, X_train, y_train, valid, n_series, device, previous):
        """Train the runs one after the other, each by skorch's own loop; a run starts
        from ``previous[run]``'s weights where ``previous`` (a warm start) is not empty."""
        seeds = check_random_state(self.random_state)
        nets, n_epochs, valid_loss = [], [], []
        for run in range(self.n_runs):
            with torch_seed(seed_from_random_state(seeds), device) as generator:
                net = self._build_net(n_series, y_train.shape[0], valid, device, generator,
                                      run=run, warm=bool(previous))
                if not previous:
                    net.fit(X_train, y_train)
                else:
                    net.initialize()
                    load_previous_weights(net.module_, previous[run], type(self).__name__)
                    net.partial_fit(X_train, y_train)
            nets.append(release_generator(net))
            history = net.history
            n_epochs.append(len(history))
            valid_loss.append(min(history[:, "valid_loss"]) if valid is not None else np.nan)
        return nets, n_epochs, valid_loss

    def _train_stacked(self, X_train, y_train, valid, n_series, device, previous):
        """Train the runs together as one stacked model (:func:`train_stacked`).

        Each run's net is built and initialised under the seed a separate fit would use,
        and its batch order comes from that seed's generator; with a warm start
        (``previous`` not empty) it then takes the previous fit's weights of its run.
        """
        seeds = check_random_state(self.random_state)
        nets, generators = [], []
        for run in range(self.n_runs):
            with torch_seed(seed_from_random_state(seeds), device) as generator:
                net = self._build_net(n_series, y_train.shape[0], valid, device, generator,
                                      warm=bool(previous))
                net.initialize()
                if previous:
                    load_previous_weights(net.module_, previous[run], type(self).__name__)
            nets.append(net)
            generators.append(generator)
        steps_per_epoch = math.ceil(y_train.shape[0] / self.batch_size)
        schedule = WarmupCosineSchedule(self.warmup_epochs * steps_per_epoch,
                                        self.cycle_epochs * steps_per_epoch)

        def tensors(data):
            X, y = data
            return ({key: torch.as_tensor(value, device=device) for key, value in X.items()},
                    torch.as_tensor(y, device=device))

        summary = train_stacked(
            nets, tensors((X_train, y_train)), None if valid is None else tensors(valid),
            generators=generators, schedule=schedule,
            random_state=seed_from_random_state(seeds),
            epoch_callback=None if self.epoch_callback is None else self._report_epoch)
        nets = [release_generator(net) for net in nets]
        return nets, [m["n_epochs"] for m in summary], [m["best_valid_loss"] for m in summary]

    def _report_epoch(self, epoch, runs, forward):
        """Call ``epoch_callback`` for the ``runs`` that ``forward`` evaluates."""
        self.epoch_callback(epoch, runs, lambda Y: self._monitor_factors(Y, forward))

    def _monitor_factors(self, Y, forward):
        """Raw factors (n_dates, n_runs) of the runs that ``forward`` evaluates, over ``Y``."""
        levels, _, _, standardized, init_series = self._prepare(Y)
        windows = window_view(standardized, self.window)
        inits = window_view(init_series, self.window)
        parts = []
        for start in range(0, windows.shape[0], _PREDICT_BATCH):
            batch = {"Y": torch.tensor(windows[start:start + _PREDICT_BATCH],
                                       dtype=torch.float32),
                     "x_init": torch.tensor(inits[start:start + _PREDICT_BATCH],
                                            dtype=torch.float32)}
            parts.append(forward(batch)[0][..., -1].cpu().numpy())
        factors = np.concatenate(parts, axis=1).T.astype(np.float64)
        return self._pad(factors, levels.shape[0])

    # ------------------------------------------------------------------ series
    def _network_series(self, Y, panel):
        """What the network sees of ``Y``: the panel itself or its first differences
        (dated by their later date), as a DataFrame when ``Y`` is one."""
        if not self.differences:
            return Y
        changes = np.diff(panel.values, axis=0)
        if isinstance(Y, pd.DataFrame):
            return pd.DataFrame(changes, index=Y.index[1:], columns=Y.columns)
        return changes

    def _identify(self, standardized, init_series):
        """LAD line of each run's factor onto the prior factor over the training span."""
        scaling = np.empty((self.n_runs, 2))
        reference = self.prior_factor_
        for run in range(self.n_runs):
            raw = np.full(standardized.shape[0], np.nan)
            raw[self.window - 1:] = self._run_outputs(run, standardized, init_series)[0][:, -1]
            usable = np.isfinite(raw) & np.isfinite(reference)
            try:
                fitted = factor_scaling(reference[usable], raw[usable])
                scaling[run] = fitted.intercept, fitted.slope
            except ValueError:
                warnings.warn(
                    f"run {run} produced a constant factor on the training span; it is "
                    f"kept unscaled", RuntimeWarning, stacklevel=3)
                scaling[run] = 0.0, 1.0
        return scaling

    # ------------------------------------------------------------------ inference
    def _run_outputs(self, run, standardized, init_series, details=False):
        """Outputs of one run over every full window of a standardised panel."""
        net = self.nets_[run]
        module, device = net.module_, net.device
        windows = window_view(standardized, self.window)
        inits = window_view(init_series, self.window)
        was_training = module.training
        module.eval()
        parts = []
        try:
            with torch.no_grad():
                for start in range(0, windows.shape[0], _PREDICT_BATCH):
                    stop = start + _PREDICT_BATCH
                    Yb = torch.tensor(windows[start:stop], dtype=torch.float32, device=device)
                    xb = torch.tensor(inits[start:stop], dtype=torch.float32, device=device)
                    parts.append(module(Yb, xb, details=details))
        finally:
            module.train(was_training)
        factor = np.concatenate([p[0].cpu().numpy() for p in parts]).astype(np.float64)
        prediction = np.concatenate([p[1].cpu().numpy() for p in parts]).astype(np.float64)
        if not details:
            return factor, prediction
        state = np.concatenate([p[2]["state_attention"][-1].mean(dim=1).cpu().numpy()
                                for p in parts])
        measurement = np.concatenate([
            p[2]["measurement_attention"][-1].mean(dim=1).cpu().numpy() for p in parts])
        stream = {name: np.concatenate([p[2]["stream"][name].cpu().numpy() for p in parts])
                  for name in parts[0][2]["stream"]}
        return factor, prediction, {"state": state, "measurement": measurement,
                                    "stream": stream}

    def _prepare(self, Y):
        """The panel ``Y`` and what the network sees of it.

        Returns ``(levels, index, columns, standardized, init_series)``: ``Y``'s values,
        dates (None for arrays) and columns, then the standardised network series (first
        differences with ``differences=True``, one date fewer) and its initial factor.
        """
        check_is_fitted(self)
        panel = self._validate_panel(Y)
        offset = int(self.differences)
        if panel.n_dates < self.window + offset:
            raise ValueError(
                f"Y has {panel.n_dates} dates but a window needs {self.window + offset}"
                f"{' (window + 1 with differences=True)' if offset else ''}"
            )
        series = self._network_series(Y, panel)
        values = np.asarray(series, dtype=float)
        standardized = self._standardized(values)
        init_series = self._init_series(series, values, list(panel.columns), standardized)
        return panel.values, panel.index, list(panel.columns), standardized, init_series

    def _check_run(self, run):
        if run is None:
            return self.best_run_
        if isinstance(run, bool) or not isinstance(run, numbers.Integral) or \
                not 0 <= run < len(self.nets_):
            raise ValueError(f"run must be None or an integer in [0, {len(self.nets_)}), "
                             f"got {run!r}")
        return int(run)

    def _scaled(self, run, raw):
        intercept, slope = self.run_scaling_[run]
        return intercept + slope * raw

    @staticmethod
    def _pad(values, n_dates):
        """Rows of the last ``len(values)`` dates of ``n_dates``; NaN before them."""
        out = np.full((n_dates,) + values.shape[1:], np.nan)
        out[n_dates - values.shape[0]:] = values
        return out

    def transform(self, Y, return_runs=False):
        """Factor estimate at every date, averaged over the runs.

        Parameters
        ----------
        Y : DataFrame or array-like of shape (n_dates, n_series)
            Panel of consecutive dates with the fitted series.
        return_runs : bool, default=False
            Also return every run's identified factor (their spread is the run-to-run
            uncertainty of section 2.9).

        Returns
        -------
        factor : ndarray or DataFrame of shape (n_dates, 1)
            Row ``t`` from the window ending at ``t``; NaN for the first ``window - 1``
            dates (``window`` with ``differences=True``). In the units of
            ``prior_factor_``. A DataFrame (column ``"factor"``) when ``Y`` is one.
        runs : ndarray or DataFrame of shape (n_dates, n_runs)
            Only with ``return_runs=True``.
        """
        values, index, _, standardized, init_series = self._prepare(Y)
        n_dates = values.shape[0]
        runs = np.column_stack([
            self._pad(self._scaled(run, self._run_outputs(run, standardized,
                                                          init_series)[0][:, -1]), n_dates)
            for run in range(len(self.nets_))])
        factor = runs.mean(axis=1, keepdims=True)
        if index is not None:
            factor = pd.DataFrame(factor, index=index, columns=["factor"])
            runs = pd.DataFrame(runs, index=index,
                                columns=[f"run_{r}" for r in range(runs.shape[1])])
        return (factor, runs) if return_runs else factor

    # ------------------------------------------------------------------ interpretation
    def get_attention(self, Y, run=None):
        """State and Measurement attention matrices at every date (section 2.10).

        Parameters
        ----------
        Y : DataFrame or array-like of shape (n_dates, n_series)
            Panel of consecutive dates.
        run : int or None, default=None
            Which training run; None is ``best_run_``.

        Returns
        -------
        attention : dict
            ``"state"``: ndarray of shape (n_dates, window, n_series), the last row of the
            last State Encoder's attention scores (the factor at date ``t`` attending to
            every variable-lag token), averaged over the heads; each matrix sums to one.
            ``"measurement"``: ndarray of shape (n_dates, window, n_series), the last
            ``n_series`` rows of the last Measurement Encoder's scores (the predictions of
            ``y_{t+1}``) transposed, averaged over the heads: column ``i`` holds the weight
            of each factor lag for the prediction of series ``i`` and sums to one. Row
            ``p`` is lag ``window - 1 - p`` (the last row is date ``t``); NaN for the first
            ``window - 1`` dates.
        """
        values, index, columns, standardized, init_series = self._prepare(Y)
        run = self._check_run(run)
        _, _, details = self._run_outputs(run, standardized, init_series, details=True)
        n_dates, k, P = values.shape[0], values.shape[1], self.window
        state = details["state"][:, -1, :].reshape(-1, P, k)
        measurement = details["measurement"][:, -k:, :].transpose(0, 2, 1)
        return {"state": self._pad(state, n_dates),
                "measurement": self._pad(measurement, n_dates)}

    def _lag_labels(self):
        P = self.window
        return [f"t-{P - 1 - p}" if p < P - 1 else "t" for p in range(P)]

    def attention_contributions(self, Y, attention="state", by="variable", smoothing=None,
                                run=None):
        """Contributions of variables or lags to the attention at every date.

        Parameters
        ----------
        Y : DataFrame or array-like of shape (n_dates, n_series)
            Panel of consecutive dates.
        attention : {"state", "measurement"}, default="state"
            Which attention matrices (see :meth:`get_attention`).
        by : {"variable", "lag"}, default="variable"
            ``"variable"``: column sums of the State attention (Figure 9). ``"lag"``: row
            sums (Figure 10; for the Measurement attention, Figure 12, divided by the
            number of series so that they are shares).
        smoothing : float in (0, 1] or None, default=None
            ``alpha`` of an exponential smoother run both ways and averaged (Figure 13).
        run : int or None, default=None
            Which training run; None is ``best_run_``.

        Returns
        -------
        contributions : DataFrame of shape (n_dates, n_series) or (n_dates, window)
            Indexed like ``Y`` (positions for arrays); each row sums to one; NaN for the
            first ``window - 1`` dates. Lag columns are labelled ``"t-8" .. "t"``.
        """
        if attention not in ("state", "measurement"):
            raise ValueError(f"attention must be 'state' or 'measurement', got {attention!r}")
        if by not in ("variable", "lag"):
            raise ValueError(f"by must be 'variable' or 'lag', got {by!r}")
        if attention == "measurement" and by == "variable":
            raise ValueError(
                "every column of a Measurement attention matrix sums to one, so it has no "
                "variable contributions; use by='lag'"
            )
        matrices = self.get_attention(Y, run=run)[attention]
        _, columns = self._index_and_columns(Y)
        if by == "variable":
            values, labels = matrices.sum(axis=1), columns
        else:
            values = matrices.sum(axis=2) / (matrices.shape[2] if attention == "measurement"
                                             else 1.0)
            labels = self._lag_labels()
        if smoothing is not None:
            values = smooth_both_ways(values, smoothing)
        index, _ = self._index_and_columns(Y)
        return pd.DataFrame(values, index=index, columns=labels)

    @staticmethod
    def _index_and_columns(Y):
        if isinstance(Y, pd.DataFrame):
            return Y.index, list(Y.columns)
        n_dates, n_series = np.shape(Y)[0], np.shape(Y)[1] if np.ndim(Y) == 2 else 1
        return pd.RangeIndex(n_dates), list(range(n_series))

    def _position(self, index, n_dates, date):
        if index is not None and not isinstance(date, numbers.Integral):
            try:
                position = index.get_loc(pd.Timestamp(date) if isinstance(
                    index, pd.DatetimeIndex) else date)
            except KeyError:
                raise ValueError(f"date {date!r} is not in the index of Y") from None
        elif isinstance(date, numbers.Integral) and not isinstance(date, bool):
            position = int(date) % n_dates if -n_dates <= date < n_dates else None
            if position is None:
                raise ValueError(f"row {date} is outside Y's {n_dates} dates")
        else:
            raise ValueError(f"date must be a label of Y's index or a row position, "
                             f"got {date!r}")
        needed = self.window + int(self.differences)
        if position < needed - 1:
            raise ValueError(
                f"date {date!r} has only {position + 1} date(s) up to it; a window needs "
                f"{needed}"
            )
        return position

    def residual_stream(self, Y, date, run=None):
        """Factor representations along the State Encoder's residual stream (Table 1).

        Every intermediate representation of the window ending at ``date`` is mapped
        through the factor projection ``W_factor`` (eq. 16) and the run's identification,
        so the ``"FFN"`` column is the run's factor estimate over the window.

        Parameters
        ----------
        Y : DataFrame or array-like of shape (n_dates, n_series)
            Panel of consecutive dates.
        date : label or int
            A label of ``Y``'s index (a DataFrame's date) or a row position.
        run : int or None, default=None
            Which training run; None is ``best_run_``.

        Returns
        -------
        stream : DataFrame of shape (window, n_stages)
            Indexed by the window's dates (positions for arrays); columns ``"Embed"``
            (``X_init``, eq. 3), ``"Norm1"`` (eq. 5), ``"Attn"`` (eq. 12), ``"Norm2"``
            (eq. 13) and ``"FFN"`` (eq. 15), suffixed ``_j`` for State Encoder ``j`` when
            there are several.
        """
        values, index, _, standardized, init_series = self._prepare(Y)
        run = self._check_run(run)
        position = self._position(index, values.shape[0], date)
        end = position - int(self.differences)  # the window's last row in the network series
        start = end - self.window + 1
        _, _, details = self._run_outputs(run, standardized[start:end + 1],
                                          init_series[start:end + 1], details=True)
        first = position - self.window + 1
        labels = (index[first:position + 1] if index is not None
                  else pd.RangeIndex(first, position + 1))
        return pd.DataFrame({name: self._scaled(run, stage[0])
                             for name, stage in details["stream"].items()}, index=labels)

    def project(self, Y, steps=6, origins=None, run=None):
        """Real-time projections ("tentacles") of the factor and the series (section 2.9).

        From each origin ``t`` the window is rolled forward ``steps`` times, each time
        appending the predicted next values and dropping the oldest date; the factor is
        estimated from every rolled window.

        Parameters
        ----------
        Y : DataFrame or array-like of shape (n_dates, n_series)
            Panel of consecutive dates.
        steps : int, default=6
            Projection horizon.
        origins : array-like of labels or positions, default=None
            Origins; None is every date with a full window.
        run : int or None, default=None
            Which training run; None is ``best_run_`` (the seed uses one trained model).

        Returns
        -------
        projection : Bunch
            ``origins``: Index of the origin labels (positions for arrays);
            ``positions``: ndarray of shape (n_origins,), their rows in ``Y``;
            ``factor``: ndarray of shape (n_origins, steps + 1), column 0 the estimate at
            the origin and column ``h`` the factor projected ``h`` dates ahead, in the
            units of :meth:`transform`;
            ``observables``: ndarray of shape (n_origins, steps, n_series), the projected
            values of dates ``t + 1 .. t + steps`` in the units of ``Y``.
        """
        self._check_projectable()
        if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps!r}")
        levels, index, _, _, _ = self._prepare(Y)
        run = self._check_run(run)
        n_dates, context = levels.shape[0], self.window + int(self.differences)
        if origins is None:
            positions = np.arange(context - 1, n_dates)
        else:
            positions = np.array([self._position(index, n_dates, o) for o in origins],
                                 dtype=int)
        windows = np.stack([levels[p - context + 1:p + 1] for p in positions])
        factor, observables = self._roll(run, windows, steps)
        labels = index[positions] if index is not None else pd.Index(positions)
        return Bunch(origins=labels, positions=positions, factor=self._scaled(run, factor),
                     observables=observables)

    def _check_projectable(self):
        if not _is_column(self.factor_init):
            raise ValueError(
                "projections and forecasts need factor_init='mean' or a column: a "
                "model-based initial factor is not defined on projected values"
            )

    def _roll(self, run, windows, steps):
        """Roll windows of levels forward ``steps`` dates on one run's own predictions.

        ``windows`` (n, window + differences, n_series) in the units of ``Y``. Returns the
        raw factor from each rolled window (n, steps + 1) and the projected values of
        the next ``steps`` dates (n, steps, n_series) in the units of ``Y``.
        """
        series = np.diff(windows, axis=1) if self.differences else windows
        net = self.nets_[run]
        module, device = net.module_, net.device
        column = self.init_column_
        factor = np.empty((windows.shape[0], steps + 1))
        predicted = np.empty((windows.shape[0], steps, windows.shape[2]))
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                current = torch.as_tensor(self._standardized(series), dtype=torch.float32,
                                          device=device)
                for h in range(steps + 1):
                    x_init = None if column is None else current[..., column]
                    f, prediction = module(current, x_init)
                    factor[:, h] = f[:, -1].cpu().numpy()
                    if h < steps:
                        predicted[:, h] = prediction.cpu().numpy()
                        current = torch.cat([current[:, 1:], prediction[:, None]], dim=1)
        finally:
            module.train(was_training)
        predicted = predicted * self.scale_ + self.mean_
        if self.differences:
            predicted = windows[:, -1:, :] + np.cumsum(predicted, axis=1)
        return factor, predicted

    # ------------------------------------------------------------------ sequence model
    def _projections(self, windows, steps):
        """Projections of every run, averaged: (n, steps, n_series) in the units of ``Y``."""
        self._check_projectable()
        return np.mean([self._roll(run, windows, steps)[1] for run in range(len(self.nets_))],
                       axis=0)

    def _update(self, values):
        self.last_window_ = np.concatenate([self.last_window_, values])[-self.last_window_.shape[0]:]

    def _skip(self, n_steps):
        # Unobserved dates are filled with the model's own projections.
        self._update(self._projections(self.last_window_[None], n_steps)[0])

    def _forecast_mean(self, steps):
        return self._projections(self.last_window_[None], steps)[0]

    def _error_scale(self, steps):
        """Root mean squared projection error per horizon and series, (steps, n_series).

        Measured on ``error_levels_``: every origin whose window lies inside it, each
        horizon over the origins whose target is inside it too.
        """
        levels = self.error_levels_
        context = self.last_window_.shape[0]
        n_origins = levels.shape[0] - context
        if n_origins < 1:
            raise ValueError("the validation span is too short to measure forecast errors")
        if steps > n_origins:
            raise ValueError(
                f"forecast quantiles {steps} steps ahead need {steps}-step errors, but the "
                f"span that measures them (the validation span, {levels.shape[0]} dates) "
                f"has origins up to {n_origins} step(s) ahead; fit with a larger "
                f"validation_fraction or ask for fewer steps"
            )
        # The error at horizon h depends on neither ``steps`` nor the data seen since the
        # fit, so the scales of the longest horizon asked for so far serve every shorter
        # one until the next fit. The store is a dict made by ``fit`` and filled in place,
        # so that forecasting leaves the estimator's attributes as they were.
        stored = self._error_scales.get("scale")
        if stored is not None and stored.shape[0] >= steps:
            return stored[:steps].copy()
        windows = np.stack([levels[o - context + 1:o + 1]
                            for o in range(context - 1, context - 1 + n_origins)])
        projected = self._projections(windows, steps)
        squared = np.full((n_origins, steps, levels.shape[1]), np.nan)
        for h in range(steps):
            rows = np.arange(n_origins - h)
            squared[rows, h] = (levels[context + h + rows] - projected[rows, h]) ** 2
        scale = np.sqrt(np.nanmean(squared, axis=0))
        self._error_scales["scale"] = scale
        return scale

    def _forecast_moments(self, steps):
        return self._forecast_mean(steps), self._error_scale(steps)

    # ------------------------------------------------------------------ checks
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags

    @classmethod
    def get_test_params(cls):
        """Tiny configurations for the common estimator checks.

        Returns
        -------
        params : list of dict
        """
        tiny = dict(window=2, d_model=8, n_heads=2, d_k=4, d_ff=16, epochs=2,
                    batch_size=16, cycle_epochs=2, warmup_epochs=1, prior="mean",
                    validation_fraction=0.3, random_state=0)
        return [tiny, dict(tiny, factor_init=0, n_runs=2, prior_weight=0.0,
                           differences=True)]
