"""Every skyield model inside SkyieldForecaster, with tiny settings, for sktime's checks.

sktime runs its suite on fixed series of one or two columns and about 20 dates. A model
that cannot be fitted on some of them is excluded from those scenarios only, in
``CANNOT_TAKE``, with the reason (the model's own error message says the same).
DynamicNelsonSiegel is not here: a Nelson-Siegel curve needs at least 3 maturities and
every sktime scenario has 1 or 2 series. Its adapter behaviour is tested on curves in
``test_sktime_forecaster.py`` and ``test_sktime_model_selection.py``.
"""

from sklearn.frozen import FrozenEstimator

from skyield.baselines import (
    GaussianLinearStateSpace,
    KalmanFactorModel,
    RandomWalk,
    WeightedRollingRegression,
)
from skyield.calibration import ConformalIntervalRegressor
from skyield.ensemble import SeedEnsemble
from skyield.models import (
    FactorTransformer,
    LSTMAttentionRegressor,
    LSTMRegressor,
    NeuralStateSpaceModel,
    TransferredCurveRegressor,
    YieldCurveAttentionRegressor,
)
from skyield.sktime import SkyieldForecaster

# sktime's fixtures with one-column series (plain, panels and hierarchies).
UNIVARIATE = ("ForecasterFitPredictUnivariate", "ForecasterFitPredictPanelSimple",
              "ForecasterFitPredictHierarchicalSimple", "y:1cols",
              "test_predict_series_name_preserved",
              "test_unequal_length_hierarchical_fit_predict")


def _tiny_yc():
    return YieldCurveAttentionRegressor(units=4, embedding_size=2, epochs=2, random_state=0)


def _source():
    import numpy as np

    rng = np.random.RandomState(0)
    curves = 2.0 + 0.1 * rng.normal(size=(40, 3)).cumsum(axis=0)
    X = np.stack([curves[i:i + 4] for i in range(36)])
    return FrozenEstimator(_tiny_yc().fit(X, curves[4:40]))


WINDOW_MODELS = {
    "RandomWalk": lambda: RandomWalk(),
    "WeightedRollingRegression": lambda: WeightedRollingRegression(targets=None),
    "LSTMRegressor": lambda: LSTMRegressor(units=4, epochs=2, random_state=0),
    "LSTMAttentionRegressor": lambda: LSTMAttentionRegressor(
        units=4, epochs=2, distribution="gaussian", random_state=0),
    "YieldCurveAttentionRegressor": _tiny_yc,
    "TransferredCurveRegressor": lambda: TransferredCurveRegressor(
        _source(), epochs=2, random_state=0),
    "SeedEnsemble": lambda: SeedEnsemble(_tiny_yc(), n_estimators=2, batched=True,
                                         random_state=0),
    # Half of sktime's short series calibrate: enough scores for its 90% intervals.
    "ConformalIntervalRegressor": lambda: ConformalIntervalRegressor(
        RandomWalk(), method="cqr", coverage=0.5, calibration_size=0.5),
}

SEQUENCE_MODELS = {
    "KalmanFactorModel": lambda: KalmanFactorModel(n_factors=1, maxiter=5),
    "GaussianLinearStateSpace": lambda: GaussianLinearStateSpace(
        n_factors=1, maturities="uniform", maxiter=3, em_iter=1),
    "NeuralStateSpaceModel": lambda: NeuralStateSpaceModel(
        n_factors=1, hidden_layers=(4,), maturities="uniform", start_decay=(1.0, 0.3),
        maxiter=2, pretrain_maxiter=2, random_state=0),
    # In levels: one of sktime's series is a straight line, whose changes are constant
    # and carry no factor.
    "FactorTransformer": lambda: FactorTransformer(
        window=2, d_model=8, n_heads=2, d_k=4, d_ff=16, epochs=1,
        batch_size=16, cycle_epochs=2, warmup_epochs=1, prior="mean",
        validation_fraction=0.3, random_state=0),
}

#: Fixtures a model cannot take: ``name -> (fixture name parts, the error it raises, why)``.
CANNOT_TAKE = {
    "KalmanFactorModel": (
        UNIVARIATE, "needs at least 2",
        "a dynamic factor model of one series is not identified: 'Y has 1 series "
        "(n_features = 1) but a dynamic factor model with n_factors=1 needs at least 2'",
    ),
    "TransferredCurveRegressor": (
        ("test_fit_does_not_overwrite_hyper_params",), "should not change or mutate",
        "sktime deep-copies the parameters before the fit and compares joblib hashes "
        "after it; the source is a fitted torch network, whose tensors pickle under "
        "their memory addresses, so the deep copy of the unchanged source hashes "
        "differently. scikit-learn's check_estimators_overwrite_params, which compares the "
        "same object before and after, passes",
    ),
}

# Dates per window: the panel scenarios give each family 10 dates and ask for 3 steps;
# the rolling regression needs windows longer than the 5 steps of another scenario.
_WINDOWS = {"WeightedRollingRegression": 6}


def forecaster(name):
    """SkyieldForecaster around model ``name``."""
    if name in WINDOW_MODELS:
        return SkyieldForecaster(WINDOW_MODELS[name](), window=_WINDOWS.get(name, 5))
    return SkyieldForecaster(SEQUENCE_MODELS[name]())


def unexpected_failures(name, results):
    """The failed fixtures of sktime's ``check_estimator`` that ``CANNOT_TAKE`` does not
    explain (for an excluded fixture, a failure with another message is unexpected)."""
    parts, message, _ = CANNOT_TAKE.get(name, ((), None, None))
    unexpected = {}
    for fixture, outcome in results.items():
        if outcome == "PASSED":
            continue
        excluded = any(part in fixture for part in parts) and message in str(outcome)
        if not excluded:
            unexpected[fixture] = str(outcome)[:300]
    return unexpected


def check_around(name):
    """Run sktime's ``check_estimator`` around model ``name`` and check its outcome."""
    from sktime.utils.estimator_checks import check_estimator

    results = check_estimator(forecaster(name), verbose=False)
    assert len(results) > 400
    assert unexpected_failures(name, results) == {}
    if name in CANNOT_TAKE:
        # the excuse is needed: some fixture fails for the stated reason
        assert any(outcome != "PASSED" for outcome in results.values())
