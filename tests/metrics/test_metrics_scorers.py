import numpy as np
import pytest
import sklearn
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.model_selection import GridSearchCV, KFold, TimeSeriesSplit, cross_validate

from skyield.baselines import DynamicNelsonSiegel
from skyield.datasets import make_nelson_siegel_curves
from skyield.metrics import (
    crps_from_quantiles,
    get_scorer,
    get_scorer_names,
    interval_score,
    make_interval_scorer,
    make_point_scorer,
    make_quantile_scorer,
    mean_squared_error,
    neg_crps,
    neg_interval_score,
    neg_mean_absolute_error,
    neg_mean_squared_error,
    neg_pinball_loss,
    neg_root_mean_squared_error,
    pinball_loss,
)


class BandRegressor(RegressorMixin, BaseEstimator):
    """Least-squares line plus per-family offsets, with a fixed-width normal band."""

    def __init__(self, width=1.0):
        self.width = width

    def fit(self, X, y, families=None):
        design = np.column_stack([np.ones(len(X)), X])
        self.coef_ = np.linalg.lstsq(design, y, rcond=None)[0]
        residual = y - design @ self.coef_
        self.offsets_ = {}
        if families is not None:
            families = np.asarray(families)
            for family in np.unique(families):
                self.offsets_[family] = residual[families == family].mean(axis=0)
        return self

    def predict(self, X, families=None):
        centre = np.column_stack([np.ones(len(X)), X]) @ self.coef_
        if self.offsets_:
            if families is None:
                raise ValueError("families is required: the model was fit with families")
            centre = centre + np.array([self.offsets_[f] for f in families])
        return centre

    def predict_quantiles(self, X, quantiles, families=None):
        z = stats.norm.ppf(np.asarray(quantiles))
        return self.predict(X, families=families)[..., None] + self.width * z

    def predict_interval(self, X, coverage=0.9, families=None):
        centre = self.predict(X, families=families)
        half = self.width * stats.norm.ppf(0.5 + coverage / 2)
        return np.stack([centre - half, centre + half], axis=-1)


RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 2))
FAMILIES = np.tile(["EUR", "USD"], 30)
Y = (
    X @ np.array([[1.0, 0.5], [-0.5, 2.0]])
    + np.where(FAMILIES == "EUR", 1.0, -1.0)[:, None]
    + RNG.normal(scale=0.3, size=(60, 2))
)
CV = KFold(3)


def _by_hand(loss, families=None, **params):
    """Mean over folds of a loss computed directly from the stub's predictions."""
    values = []
    for train, test in CV.split(X):
        fam_train = None if families is None else families[train]
        fam_test = None if families is None else families[test]
        model = BandRegressor(**params).fit(X[train], Y[train], families=fam_train)
        values.append(loss(model, X[test], Y[test], fam_test))
    return np.array(values)


def _interval_loss(coverage):
    def loss(model, X_test, y_test, families):
        bounds = model.predict_interval(X_test, coverage=coverage, families=families)
        lower, upper = bounds[..., 0], bounds[..., 1]
        a = 1 - coverage
        score = (upper - lower) + 2 / a * (
            np.maximum(lower - y_test, 0) + np.maximum(y_test - upper, 0)
        )
        return score.mean()

    return loss


def _pinball_loss(levels):
    def loss(model, X_test, y_test, families):
        q = model.predict_quantiles(X_test, quantiles=levels, families=families)
        u = y_test[..., None] - q
        return np.maximum(np.asarray(levels) * u, (np.asarray(levels) - 1) * u).mean()

    return loss


def _rmse(model, X_test, y_test, families):
    return np.sqrt(np.mean((model.predict(X_test, families=families) - y_test) ** 2))


@pytest.fixture
def routing():
    previous = sklearn.get_config()["enable_metadata_routing"]
    sklearn.set_config(enable_metadata_routing=True)
    try:
        yield
    finally:
        sklearn.set_config(enable_metadata_routing=previous)


def test_interval_scorer_in_grid_search():
    widths = [0.05, 0.5, 5.0]
    search = GridSearchCV(
        BandRegressor(), {"width": widths}, scoring=neg_interval_score, cv=CV
    ).fit(X, Y)
    expected = [-_by_hand(_interval_loss(0.95), width=w).mean() for w in widths]
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], expected)
    assert search.best_params_ == {"width": widths[int(np.argmax(expected))]}


def test_point_and_quantile_scorers_in_cross_validate():
    # two scorers call predict_quantiles with different levels: no shared cache
    scoring = {
        "rmse": neg_root_mean_squared_error,
        "pinball": neg_pinball_loss,
        "pinball_mid": make_quantile_scorer(quantiles=[0.25, 0.75]),
        "crps": neg_crps,
    }
    result = cross_validate(BandRegressor(width=0.8), X, Y, scoring=scoring, cv=CV)
    np.testing.assert_allclose(result["test_rmse"], -_by_hand(_rmse, width=0.8))
    np.testing.assert_allclose(
        result["test_pinball"], -_by_hand(_pinball_loss([0.025, 0.5, 0.975]), width=0.8)
    )
    np.testing.assert_allclose(
        result["test_pinball_mid"], -_by_hand(_pinball_loss([0.25, 0.75]), width=0.8)
    )
    levels = list(np.arange(1, 20) / 20)
    np.testing.assert_allclose(
        result["test_crps"], -2 * _by_hand(_pinball_loss(levels), width=0.8)
    )


def test_families_are_routed_to_predict_methods(routing):
    scorer = get_scorer("neg_interval_score").set_score_request(families=True)
    estimator = BandRegressor().set_fit_request(families=True)
    search = GridSearchCV(estimator, {"width": [0.3, 1.0]}, scoring=scorer, cv=CV)
    search.fit(X, Y, families=FAMILIES)
    expected = [
        -_by_hand(_interval_loss(0.95), families=FAMILIES, width=w).mean() for w in [0.3, 1.0]
    ]
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], expected)
    # the family offsets make the routed scores better than family-blind ones
    blind = [-_by_hand(_interval_loss(0.95), width=w).mean() for w in [0.3, 1.0]]
    assert np.all(np.asarray(expected) > np.asarray(blind))


def test_families_routed_in_multimetric_cross_validate(routing):
    scoring = {
        "crps": get_scorer("neg_crps").set_score_request(families=True),
        "mae": get_scorer("neg_mean_absolute_error").set_score_request(families=True),
    }
    estimator = BandRegressor(width=0.4).set_fit_request(families=True)
    result = cross_validate(
        estimator, X, Y, scoring=scoring, cv=CV, params={"families": FAMILIES}
    )
    levels = list(np.arange(1, 20) / 20)
    np.testing.assert_allclose(
        result["test_crps"],
        -2 * _by_hand(_pinball_loss(levels), families=FAMILIES, width=0.4),
    )

    def mae(model, X_test, y_test, families):
        return np.mean(np.abs(model.predict(X_test, families=families) - y_test))

    np.testing.assert_allclose(result["test_mae"], -_by_hand(mae, families=FAMILIES, width=0.4))


def test_unrequested_families_raise_under_routing(routing):
    estimator = BandRegressor().set_fit_request(families=True)
    search = GridSearchCV(estimator, {"width": [1.0]}, scoring=get_scorer("neg_crps"), cv=CV)
    with pytest.raises(UnsetMetadataPassedError, match="families"):
        search.fit(X, Y, families=FAMILIES)


def test_families_without_routing_is_an_error():
    model = BandRegressor().fit(X, Y, families=FAMILIES)
    with pytest.raises(ValueError, match="enable_metadata_routing=True"):
        neg_interval_score(model, X, Y, families=FAMILIES)


def test_sample_weight_reaches_the_metric():
    model = BandRegressor().fit(X, Y)
    weight = np.r_[np.ones(30), np.zeros(30)]
    weighted = neg_mean_absolute_error(model, X, Y, sample_weight=weight)
    assert weighted == pytest.approx(neg_mean_absolute_error(model, X[:30], Y[:30]))


def test_point_scorer_with_maturity_weights():
    model = BandRegressor().fit(X, Y)
    scorer = make_point_scorer("mean_squared_error", multioutput=[0.0, 1.0])
    assert scorer(model, X, Y) == pytest.approx(-np.mean((model.predict(X)[:, 1] - Y[:, 1]) ** 2))


def test_interval_scorer_with_mpiw_and_callable_metric():
    model = BandRegressor(width=2.0).fit(X, Y)
    half = 2.0 * stats.norm.ppf(0.95)
    assert make_interval_scorer("mpiw", coverage=0.9)(model, X, Y) == pytest.approx(-2 * half)

    seen = {}

    def excess_miss_rate(y_true, lower, upper, coverage):
        seen["coverage"] = coverage
        return abs(np.mean((y_true < lower) | (y_true > upper)) - (1 - coverage))

    scorer = make_interval_scorer(excess_miss_rate, coverage=0.8)
    assert scorer(model, X, Y) <= 0
    assert seen["coverage"] == 0.8


def test_registry():
    assert get_scorer_names() == sorted(
        [
            "neg_crps",
            "neg_interval_score",
            "neg_mean_absolute_error",
            "neg_mean_squared_error",
            "neg_pinball_loss",
            "neg_root_mean_squared_error",
        ]
    )
    first, second = get_scorer("neg_crps"), get_scorer("neg_crps")
    assert first is not second and first is not neg_crps
    assert get_scorer(neg_crps) is neg_crps
    with pytest.raises(ValueError, match="'r2' is not a skyield scorer name"):
        get_scorer("r2")
    with pytest.raises(TypeError, match="scoring must be a scorer name or a callable"):
        get_scorer(3)


def test_copies_keep_requests_apart(routing):
    copy = get_scorer("neg_interval_score").set_score_request(families=True)
    assert copy.get_metadata_routing().score.requests == {"families": True}
    # the shared module-level scorer still declares families as unrequested
    assert neg_interval_score.get_metadata_routing().score.requests == {
        "sample_weight": None,
        "families": None,
    }


def test_factory_errors():
    with pytest.raises(ValueError, match="quantiles must lie strictly between 0 and 1"):
        make_quantile_scorer(quantiles=[0.0, 0.5])
    with pytest.raises(ValueError, match="quantiles must be strictly increasing"):
        make_quantile_scorer(quantiles=[0.9, 0.1])
    with pytest.raises(ValueError, match="metric must be one of"):
        make_quantile_scorer("energy", quantiles=[0.5])
    with pytest.raises(ValueError, match="coverage must lie strictly between 0 and 1"):
        make_interval_scorer(coverage=95)
    with pytest.raises(TypeError, match="metric must be a string or a callable"):
        make_point_scorer(metric=1.0)


def test_missing_method_and_bad_interval_shape():
    class PointOnly(RegressorMixin, BaseEstimator):
        def fit(self, X, y):
            return self

        def predict(self, X):
            return np.zeros((len(X), 2))

        def predict_interval(self, X, coverage=0.9):
            return np.zeros((len(X), 2, 3))

    model = PointOnly().fit(X, Y)
    with pytest.raises(AttributeError, match="PointOnly has no predict_quantiles method"):
        neg_crps(model, X, Y)
    with pytest.raises(ValueError, match=r"predict_interval must return shape y.shape \+ \(2,\)"):
        neg_interval_score(model, X, Y)


# ---------------------------------------------------------------- sequence models
@pytest.fixture(scope="module")
def curves():
    return make_nelson_siegel_curves(n_dates=140, maturities=[0.25, 1, 2, 5, 10, 30],
                                     random_state=7).curves


@pytest.fixture(scope="module")
def sequence_model(curves):
    return DynamicNelsonSiegel(dynamics="var").fit(curves.iloc[:110])


@pytest.mark.parametrize("horizon", [None, 1, 3])
def test_scorers_compare_a_sequence_models_block_forecasts_with_the_block(
        sequence_model, curves, horizon):
    block = curves.iloc[110:]
    values = block.to_numpy()
    h = 1 if horizon is None else horizon
    point = make_point_scorer("mean_squared_error", horizon=horizon)
    predicted = sequence_model.predict(block, horizon=h).to_numpy()
    assert point(sequence_model, block, None) == pytest.approx(
        -mean_squared_error(values, predicted))
    # The model's own score is minus the same mean squared error.
    assert point(sequence_model, block, None) == pytest.approx(
        sequence_model.score(block, horizon=h))
    levels = [0.1, 0.5, 0.9]
    quantile = make_quantile_scorer(quantiles=levels, horizon=horizon)
    assert quantile(sequence_model, block, None) == pytest.approx(-pinball_loss(
        values, sequence_model.predict_quantiles(block, levels, horizon=h), levels))
    interval = make_interval_scorer(coverage=0.8, horizon=horizon)
    bounds = sequence_model.predict_interval(block, coverage=0.8, horizon=h)
    assert interval(sequence_model, block, None) == pytest.approx(
        -interval_score(values, bounds[..., 0], bounds[..., 1], 0.8))


def test_the_horizon_of_a_scorer_changes_a_sequence_models_score(sequence_model, curves):
    block = curves.iloc[110:]
    one = make_point_scorer("mean_squared_error", horizon=1)(sequence_model, block, None)
    six = make_point_scorer("mean_squared_error", horizon=6)(sequence_model, block, None)
    assert one != pytest.approx(six) and six < one  # farther forecasts are worse
    assert neg_mean_squared_error(sequence_model, block, None) == pytest.approx(one)
    levels = list(np.arange(1, 20) / 20)
    crps_six = make_quantile_scorer("crps", quantiles=levels, horizon=6)
    assert crps_six(sequence_model, block, None) == pytest.approx(-crps_from_quantiles(
        block.to_numpy(), sequence_model.predict_quantiles(block, levels, horizon=6), levels))


def test_horizon_does_not_touch_window_models_scored_on_targets():
    model = BandRegressor(width=0.7).fit(X, Y)
    for make, options in ((make_point_scorer, {}), (make_interval_scorer, {"coverage": 0.9}),
                          (make_quantile_scorer, {"quantiles": [0.2, 0.8]})):
        assert make(horizon=4, **options)(model, X, Y) == pytest.approx(
            make(**options)(model, X, Y))


def test_grid_search_of_a_sequence_model_with_a_horizon_scorer(curves):
    data = curves.iloc[:130]
    cv = TimeSeriesSplit(n_splits=3, test_size=15, gap=2)
    scoring = {"mse3": make_point_scorer("mean_squared_error", horizon=3),
               "interval": make_interval_scorer(coverage=0.9, horizon=3)}
    search = GridSearchCV(DynamicNelsonSiegel(), {"dynamics": ["ar", "var"]}, cv=cv,
                          scoring=scoring, refit="mse3", error_score="raise").fit(data)
    for candidate, dynamics in enumerate(["ar", "var"]):
        manual = []
        for train, test in cv.split(data):
            fitted = DynamicNelsonSiegel(dynamics=dynamics).fit(data.iloc[train])
            manual.append(fitted.score(data.iloc[test], horizon=3))
        assert search.cv_results_["mean_test_mse3"][candidate] == pytest.approx(
            np.mean(manual))
    assert np.isfinite(search.cv_results_["mean_test_interval"]).all()


def test_cross_validate_of_a_sequence_model_with_one_horizon_scorer(curves):
    # y=None: scikit-learn calls the scorer as scorer(estimator, X_test).
    data = curves.iloc[:130]
    cv = TimeSeriesSplit(n_splits=3, test_size=15)
    scorer = make_quantile_scorer(quantiles=[0.1, 0.5, 0.9], horizon=2)
    result = cross_validate(DynamicNelsonSiegel(), data, cv=cv, scoring=scorer,
                            error_score="raise")
    for score, (train, test) in zip(result["test_score"], cv.split(data)):
        fitted = DynamicNelsonSiegel().fit(data.iloc[train])
        assert score == pytest.approx(scorer(fitted, data.iloc[test], None))
