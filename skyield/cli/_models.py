"""The models ``skyield benchmark`` knows, each with sensible default settings.

A model entry builds an estimator from the run's seed and device; ``window`` is the
history each window regressor sees; whether a model is a window regressor or a sequence
model is its own (its base class). Models marked ``default`` run without ``--models``.
Every model is refitted on the run's schedule (``--refit``). A model with
``warm_refit`` parameters refits from its previous fit (``warm_start=True`` through
:func:`skyield.model_selection.backtest`), fine-tuned with those parameters (fewer epochs
or iterations than its first fit), so that its refits cost a small multiple of one fit;
the others refit from scratch. ``--refit 0`` fits every model once.
Models with ``members`` (the deep ones, whose fit depends on their seed) run as seed
ensembles of that many members, or of ``--members`` when given
(:class:`skyield.ensemble.SeedEnsemble`, batched where the model allows it, or
:class:`skyield.ensemble.SequenceSeedEnsemble`), whose forecasts include the spread
between the members' trainings; 1 runs the single model.
``diagnostics`` names the figures of :mod:`skyield.cli._diagnostics` the report shows for
the model (attention, loadings, factors).
A model with a ``grid`` (a dict of parameter lists, in the model's own parameter names)
is tuned under ``--tune``: every fit chooses among the grid's settings by time-series
cross-validation inside its own training span
(:func:`skyield.model_selection.tuned`, ``cv=3`` expanding folds), is refitted with the
choice on the whole span, and is fitted from scratch (a tuned model has nothing to warm
start: each fit may choose other settings). A seed ensemble is tuned as a whole, its
members sharing the settings (``estimator__`` parameters): the search scores the
forecasts the run makes, the ensemble's, and gives one choice per fit; tuning each
member apart would cost as many fits and could give members different settings. The
random walk and the combination have no grid; ``--tune`` leaves them as they are.
"""

from dataclasses import dataclass
from typing import Callable

from sklearn.utils import get_tags

#: Expanding-window folds of each training span in which ``--tune`` scores a grid.
TUNING_FOLDS = 3

# The parameters of a seed ensemble's members, as the ensemble names them.
_MEMBER = "estimator__"


def _is_tuned(estimator):
    from skyield.model_selection import TunedSequenceModel, TunedWindowRegressor

    return isinstance(estimator, (TunedWindowRegressor, TunedSequenceModel))


def _is_ensemble(estimator):
    return hasattr(estimator, "n_estimators")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    description: str
    build: Callable
    default: bool = True
    warm_refit: dict = None
    members: int = None
    diagnostics: str = None
    grid: dict = None

    def ensemble_size(self, members=None):
        """Members of the model's seed ensemble (``members``, else its own; 1: none)."""
        if self.members is None:
            return 1
        return self.members if members is None else members

    def make(self, seed, device, maturities, members=None, horizons=None, tune=False):
        """The estimator the benchmark runs for ``horizons``: the model or its seed
        ensemble (of ``members`` members, default the model's own number); with ``tune``,
        and a grid, tuned on each training span it is fitted on."""
        model = self.build(seed, device, maturities)
        if horizons is not None and "horizons" in model.get_params(deep=False):
            model.set_params(horizons=list(horizons))  # what a combination learns weights for
        members = self.ensemble_size(members)
        if members >= 2:
            model = _seed_ensemble(model, members, seed)
        if not (tune and self.grid):
            return model
        from skyield.model_selection import tuned

        prefix = _MEMBER if _is_ensemble(model) else ""
        return tuned(model, {prefix + key: list(values) for key, values in self.grid.items()},
                     horizons=None if horizons is None else list(horizons), cv=TUNING_FOLDS)

    def chosen(self, fitted):
        """The grid settings a fitted tuned model chose, in the model's own parameter
        names (None: ``fitted`` is not tuned)."""
        if not _is_tuned(fitted):
            return None
        prefix = _MEMBER if _is_ensemble(fitted.best_estimator_) else ""
        return {key[len(prefix):]: value for key, value in fitted.best_params_.items()}

    def warm_params(self, estimator):
        """The parameters of ``estimator``'s warm refits (None: refits from scratch, as
        every tuned model does)."""
        if self.warm_refit is None or _is_tuned(estimator):
            return None
        if _is_ensemble(estimator):  # a seed ensemble: its members' settings
            return {f"{_MEMBER}{key}": value for key, value in self.warm_refit.items()}
        return dict(self.warm_refit)

    def grid_text(self):
        """The grid in words (None: no grid)."""
        if not self.grid:
            return None
        return " x ".join(f"{key} in {{{', '.join(map(str, values))}}}"
                          for key, values in self.grid.items())

    def refit_plan(self, every, tune=False):
        """How the model is refitted when ``--refit`` is ``every``, in words (``tune``:
        under ``--tune``)."""
        tuned = tune and bool(self.grid)
        if not every:
            return "tuned and fitted once on the training span" if tuned else \
                "fitted once on the training span"
        text = f"refitted every {every} test dates on all dates before each block"
        if tuned:
            return text + ", each fit tuned on its span and fitted from scratch"
        if self.warm_refit is None:
            return text + ", from scratch"
        settings = ", ".join(f"{key}={value}" for key, value in self.warm_refit.items())
        return text + ", warm-started from the previous fit" + (
            f" ({settings})" if settings else "")


def _seed_ensemble(model, members, seed):
    from skyield.base import estimator_kind
    from skyield.ensemble import SeedEnsemble, SequenceSeedEnsemble
    from skyield.ensemble._batched import supports_batched_fit

    if estimator_kind(model) == "sequence":
        return SequenceSeedEnsemble(model, n_estimators=members, random_state=seed)
    return SeedEnsemble(model, n_estimators=members, random_state=seed,
                        batched=supports_batched_fit(model))


def _random_walk(seed, device, maturities):
    from skyield.baselines import RandomWalk

    return RandomWalk()


def _dns(factors, dynamics, method="two-step"):
    def build(seed, device, maturities):
        from skyield.baselines import DynamicNelsonSiegel

        return DynamicNelsonSiegel(factors=factors, dynamics=dynamics, method=method,
                                   maturities=maturities)

    return build


def _lstm_attention(seed, device, maturities):
    from skyield.models import LSTMAttentionRegressor

    return LSTMAttentionRegressor(units=16, epochs=40, differences=True, early_stopping=True,
                                  patience=5, device=device, random_state=seed)


def _lstm(seed, device, maturities):
    from skyield.models import LSTMRegressor

    return LSTMRegressor(units=16, epochs=40, differences=True, early_stopping=True,
                         patience=5, device=device, random_state=seed)


def _yc_att(seed, device, maturities):
    from skyield.models import YieldCurveAttentionRegressor

    # The seed's network (attention extractor, sigmoid output, dropout 0.5, min-max
    # scaling) with the residual option: its heads forecast the change from the window's
    # last curve, the configuration that time-series cross-validation chose on EIOPA's
    # curves (docs/models/yield_curve_attention_eiopa.md), at that study's size.
    return YieldCurveAttentionRegressor(units=8, epochs=100, batch_size=32, lr=1e-3,
                                        residual=True, maturities=maturities, device=device,
                                        random_state=seed)


def _nnss(seed, device, maturities):
    from skyield.models import NeuralStateSpaceModel

    return NeuralStateSpaceModel(n_factors=4, maxiter=1500, maturities=maturities,
                                 device=device, random_state=seed)


def _factor_transformer(seed, device, maturities):
    from skyield.models import FactorTransformer

    # The prior factor is the mean of the standardised changes: the seed's one-factor
    # Kalman prior is a maximum-likelihood fit of its own at every refit, which would
    # cost most of the run.
    return FactorTransformer(window=12, differences=True, epochs=100, cycle_epochs=50,
                             lr=1e-3, prior="mean", device=device, random_state=seed)


def _combination(seed, device, maturities):
    from skyield.compose import SequenceForecastCombination

    members = [(name, _dns(factors, dynamics, method)(seed, device, maturities))
               for name, factors, dynamics, method in COMBINED]
    return SequenceForecastCombination(members, weighting="least_squares", cv=3)


#: The members of the ``combination`` model: the two-step factor models of the registry
#: (the one-step ``dns-kalman`` would cost four maximum-likelihood fits per refit).
COMBINED = [("ns-ar", "ns", "ar", "two-step"), ("ns-var", "ns", "var", "two-step"),
            ("nss-var", "nss", "var", "two-step")]


# The --tune grids, each holding the model's default settings. The decay rules of the
# factor models are those of skyield.baselines.fit_nelson_siegel. The networks' capacity
# and penalty: half the units, and a weight decay 50 times the default (the seed's l2);
# the quantile network has no weight decay and is regularised by its dropout instead.
# NNSS: the prior variance of the network weights, the seed's 0.05 and the 0.005 its
# Table 5 found best. The factor Transformer: its lags, the seed's P = 9 and the 12
# months the benchmark uses.
_DECAY_RULES = {"decay": ["diebold-li", "mean-maturity", "grid"]}
_LSTM_GRID = {"units": [8, 16], "weight_decay": [2e-5, 1e-3]}

MODELS = {
    entry.name: entry
    for entry in [
        ModelEntry("random-walk", "random walk (last observed curve)", _random_walk),
        ModelEntry("ns-ar", "two-step dynamic Nelson-Siegel, AR(1) factors", _dns("ns", "ar"),
                   grid=_DECAY_RULES),
        ModelEntry("ns-var", "two-step dynamic Nelson-Siegel, VAR(1) factors", _dns("ns", "var"),
                   grid=_DECAY_RULES),
        ModelEntry("nss-ar", "two-step dynamic Svensson, AR(1) factors (on short grids the "
                   "level and second-curvature loadings are nearly collinear, which per-factor "
                   "AR(1) fits handle badly; not run by default)", _dns("nss", "ar"),
                   default=False, grid=_DECAY_RULES),
        ModelEntry("nss-var", "two-step dynamic Svensson, VAR(1) factors", _dns("nss", "var"),
                   grid=_DECAY_RULES),
        ModelEntry("dns-kalman", "one-step dynamic Nelson-Siegel (Kalman filter, ML); "
                   "refits start from the previous estimates", _dns("ns", "var", "kalman"),
                   warm_refit={}, diagnostics="dns-factors", grid=_DECAY_RULES),
        ModelEntry("combination", "forecast combination of ns-ar, ns-var and nss-var: "
                   "constrained least-squares weights per horizon, learned on "
                   "their out-of-sample errors in 3 expanding folds of each training span; "
                   "Gaussian intervals from the combination's own errors", _combination),
        ModelEntry("lstm-attention", "LSTM with attention on monthly changes (16 units, 40 "
                   "epochs, early stopping), a seed ensemble of 3 (mean of the members' "
                   "quantiles); refits fine-tune the previous weights for 5 epochs",
                   _lstm_attention, warm_refit={"epochs": 5}, members=3,
                   diagnostics="attention", grid=_LSTM_GRID),
        ModelEntry("nnss", "neural state space model: 4 factors with neural loadings, MAP "
                   "through the Kalman filter (seed priors, at most 1500 L-BFGS iterations), "
                   "refits start from the previous estimates (at most 20 iterations); one model, "
                   "whose intervals come from its Kalman filter (a member costs a MAP fit)",
                   _nnss, warm_refit={"maxiter": 20}, members=1, diagnostics="nnss",
                   grid={"prior_weight_var": [0.05, 0.005]}),
        ModelEntry("factor-transformer", "one nonlinear dynamic factor of the monthly "
                   "changes (Encoder-Encoder Transformer, 12 lags, 100 epochs, mean prior); "
                   "refits fine-tune the previous weights for 10 epochs; forecasts roll the "
                   "window forward on its own predictions; one model, whose intervals come "
                   "from its validation errors (a seed ensemble would triple the run's "
                   "longest part)", _factor_transformer, warm_refit={"epochs": 10},
                   members=1, diagnostics="transformer-factor", grid={"window": [9, 12]}),
        ModelEntry("lstm", "plain LSTM on monthly changes (16 units); refits fine-tune the "
                   "previous weights for 5 epochs", _lstm, default=False,
                   warm_refit={"epochs": 5}, members=3, grid=_LSTM_GRID),
        ModelEntry("yc-att", "multi-curve quantile network of seed 001 (attention "
                   "extractor, 8 units, 100 epochs) with the residual option (its heads "
                   "forecast the change from the last curve), a batched seed ensemble of 3 "
                   "trained on every curve at once; refits fine-tune the previous weights "
                   "for 10 epochs; run by default on the EIOPA panel", _yc_att,
                   default=False, warm_refit={"epochs": 10}, members=3,
                   diagnostics="attention", grid={"units": [8, 16], "dropout": [0.2, 0.5]}),
    ]
}


def handles_missing_values(entry):
    """Whether the model of ``entry`` takes missing values (its ``allow_nan`` tag)."""
    return bool(get_tags(entry.build(0, "cpu", None)).input_tags.allow_nan)


def resolve_models(names):
    """Return the model entries for a comma-separated list (None: the defaults)."""
    if names is None:
        return [entry for entry in MODELS.values() if entry.default]
    chosen = []
    for name in (part.strip() for part in names.split(",")):
        if name not in MODELS:
            raise ValueError(f"unknown model {name!r}; available: {', '.join(MODELS)}")
        if name not in [entry.name for entry in chosen]:
            chosen.append(MODELS[name])
    if not chosen:
        raise ValueError("--models names no model")
    return chosen
