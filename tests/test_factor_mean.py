"""``factor_mean``: one name for the transition intercept of every yield-curve state space model.

The dynamic Nelson-Siegel/Svensson models (both estimation methods), the free-loadings
GLSS and the neural NNSS share the parameter. A known-answer test simulates curves whose
factors revert to a known mean and checks that every model with ``factor_mean=True``
finds the long-run mean curve ``Lambda mu`` and forecasts towards it, while
``factor_mean=False`` holds the intercept at zero in the estimates and in the forecasts.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skyield._nelson_siegel import nelson_siegel_loadings
from skyield.baselines import DynamicNelsonSiegel, GaussianLinearStateSpace
from skyield.datasets import make_nelson_siegel_curves
from skyield.models import NeuralStateSpaceModel
from skyield.models._nnss_start import two_step_start
from skyield.statespace import kalman_filter

TAU = [0.25, 1.0, 2.0, 5.0, 10.0]
DECAY = 0.7308
MEAN = np.array([6.0, -2.0, -0.5])
TRANSITION = np.diag([0.8, 0.7, 0.5])
# The long-run mean curve of the simulation, Lambda mu (percent).
MEAN_CURVE = nelson_siegel_loadings(TAU, DECAY) @ MEAN

MODELS = {
    "2-step DNS": lambda fm: DynamicNelsonSiegel(dynamics="var", decay=DECAY, factor_mean=fm),
    "1-step DNS": lambda fm: DynamicNelsonSiegel(dynamics="var", decay=DECAY,
                                                 method="kalman", factor_mean=fm),
    "2-step DSV": lambda fm: DynamicNelsonSiegel(factors="nss", dynamics="ar",
                                                 decay=(DECAY, 0.2), factor_mean=fm),
    "1-step DSV": lambda fm: DynamicNelsonSiegel(factors="nss", dynamics="ar",
                                                 decay=(DECAY, 0.2), method="kalman",
                                                 maxiter=200, factor_mean=fm),
    "GLSS": lambda fm: GaussianLinearStateSpace(n_factors=3, decays=DECAY, maxiter=100,
                                                factor_mean=fm),
    "NNSS": lambda fm: NeuralStateSpaceModel(n_factors=3, hidden_layers=(8, 8), maxiter=25,
                                             pretrain_maxiter=40, start_decay=(DECAY, 0.2),
                                             random_state=0, factor_mean=fm),
}


@pytest.fixture(scope="module")
def curves():
    return make_nelson_siegel_curves(n_dates=240, maturities=TAU, decay=DECAY,
                                     transition=TRANSITION, factor_mean=MEAN,
                                     noise_std=0.05, random_state=5).curves


@pytest.fixture(scope="module")
def fitted(curves):
    models = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, build in MODELS.items():
            for factor_mean in (True, False):
                models[name, factor_mean] = build(factor_mean).fit(curves)
    return models


def test_one_parameter_with_each_models_default(curves):
    defaults = {DynamicNelsonSiegel: True, GaussianLinearStateSpace: False,
                NeuralStateSpaceModel: False}
    for estimator, default in defaults.items():
        assert estimator().get_params()["factor_mean"] is default
        with pytest.raises(ValueError, match="factor_mean must be True or False"):
            estimator(factor_mean="yes").fit(curves)


@pytest.mark.parametrize("name", list(MODELS))
def test_known_factor_mean_is_found(fitted, name):
    model = fitted[name, True]
    # Standard errors of the mean of AR(1) factors with these persistences over 240 dates
    # are below 0.1 percentage point; the loadings of GLSS and NNSS are estimated too.
    np.testing.assert_allclose(model.loadings_ @ model.mean_, MEAN_CURVE, atol=0.3)
    # Far ahead, the forecast is the long-run mean curve.
    far = np.asarray(model.forecast(300), dtype=float)[-1]
    np.testing.assert_allclose(far, model.loadings_ @ model.mean_, atol=1e-6)


@pytest.mark.parametrize("name", list(MODELS))
def test_without_factor_mean_the_intercept_is_zero(fitted, name):
    model = fitted[name, False]
    np.testing.assert_array_equal(model.intercept_, 0.0)
    np.testing.assert_array_equal(model.mean_, 0.0)
    # One step ahead of the state at the last date: H F beta, no intercept.
    state = _last_state(model)
    np.testing.assert_allclose(np.asarray(model.forecast(1), dtype=float)[0],
                               model.loadings_ @ model.transition_ @ state, rtol=1e-8)
    # The mean curve is far from zero, so only the model with the mean finds it.
    with_mean = fitted[name, True]
    assert np.abs(with_mean.loadings_ @ with_mean.mean_ - MEAN_CURVE).max() < 0.3


def test_forecast_adds_the_intercept(fitted):
    for name in MODELS:
        model = fitted[name, True]
        state, F, c = _last_state(model), model.transition_, model.intercept_
        expected = model.loadings_ @ (c + F @ (c + F @ state))
        np.testing.assert_allclose(np.asarray(model.forecast(2), dtype=float)[1], expected,
                                   rtol=1e-8, err_msg=name)


def _last_state(model):
    if isinstance(model, DynamicNelsonSiegel):
        return model.state_
    if isinstance(model, NeuralStateSpaceModel):
        return model.filter_state_["mean"]
    return np.asarray(model.state_results_.filtered_state)[:, -1]


def test_nnss_likelihood_with_an_intercept_is_the_kalman_filters(fitted, curves):
    model = fitted["NNSS", True]
    Y = curves.to_numpy()
    k = model.transition_.shape[0]
    reference = kalman_filter(Y, model.loadings_, model.transition_,
                              np.diag(model.measurement_var_), model.state_cov_,
                              a0=np.zeros(k), P0=model.initial_state_var_ * np.eye(k),
                              c=model.intercept_, init="known")
    assert model.log_likelihood(curves) == pytest.approx(float(reference.loglike), rel=1e-12)
    assert model.log_likelihood_ == pytest.approx(float(reference.loglike), rel=1e-9)
    np.testing.assert_allclose(model.filtered_factors_.to_numpy(),
                               reference.filtered_state.numpy(), rtol=1e-9, atol=1e-12)


def test_nnss_start_is_the_var_with_a_constant(curves):
    values = curves.to_numpy()
    start = two_step_start(values, np.asarray(TAU), 3, (DECAY, 0.2), intercept=True)
    factors = start["factors"]
    design = np.column_stack([np.ones(len(factors) - 1), factors[:-1]])
    coef, *_ = np.linalg.lstsq(design, factors[1:], rcond=None)
    np.testing.assert_allclose(start["intercept"], coef[0], rtol=1e-10)
    np.testing.assert_allclose(start["transition"], coef[1:].T, rtol=1e-10)
    without = two_step_start(values, np.asarray(TAU), 3, (DECAY, 0.2))
    np.testing.assert_array_equal(without["intercept"], 0.0)


def test_nnss_intercept_is_optimised(fitted):
    model = fitted["NNSS", True]
    assert not np.allclose(model.intercept_, model.start_["intercept"])
    assert model.history_[-1] < model.history_[0]

