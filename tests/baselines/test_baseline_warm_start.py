"""Warm-started refits of the maximum-likelihood sequence models (``warm_start=True``).

The one-step dynamic Nelson-Siegel model, the Kalman factor model and the Gaussian linear
state space model start their optimiser from the previous fit's estimates. A refit with
``warm_start=False`` equals a cold fit; a warm refit on the data of the previous fit
starts at its optimum and stays there; a changed specification is refused.
"""

import copy
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skyield.baselines import DynamicNelsonSiegel, GaussianLinearStateSpace, KalmanFactorModel
from skyield.datasets import make_nelson_siegel_curves

MODELS = {
    "DynamicNelsonSiegel": DynamicNelsonSiegel(method="kalman", dynamics="var", maxiter=200),
    "KalmanFactorModel": KalmanFactorModel(n_factors=1, maxiter=60),
    "GaussianLinearStateSpace": GaussianLinearStateSpace(n_factors=2, maxiter=30, em_iter=2),
}


@pytest.fixture(scope="module")
def curves():
    return make_nelson_siegel_curves(n_dates=90, maturities=[0.5, 1, 2, 5, 10],
                                     random_state=3).curves


def _parameters(model):
    if isinstance(model, DynamicNelsonSiegel):
        return np.concatenate([model.transition_.ravel(), model.measurement_var_])
    return np.asarray(model.results_.params)


@pytest.mark.parametrize("name", list(MODELS))
def test_warm_start_changes_only_the_starting_point(curves, name):
    model = MODELS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cold = copy.deepcopy(model).fit(curves.iloc[:90])
        previous = copy.deepcopy(model).fit(curves.iloc[:70])
        warm = copy.deepcopy(previous).set_params(warm_start=True).fit(curves.iloc[:90])
        assert np.isfinite(warm.log_likelihood_)
        warm.set_params(warm_start=False).fit(curves.iloc[:90])
        np.testing.assert_array_equal(_parameters(warm), _parameters(cold))
        # started at its own optimum on the same data, one iteration moves it little
        again = copy.deepcopy(cold).set_params(warm_start=True, maxiter=1)
        again.fit(curves.iloc[:90])
    assert again.log_likelihood_ >= cold.log_likelihood_ - 1e-6 * abs(cold.log_likelihood_)
    one_cold = copy.deepcopy(model).set_params(maxiter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one_cold.fit(curves.iloc[:90])
    assert one_cold.log_likelihood_ < again.log_likelihood_


def test_a_changed_specification_is_refused(curves):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dns = DynamicNelsonSiegel(method="kalman", maxiter=20).fit(curves)
        with pytest.raises(ValueError, match="loadings have shape"):
            dns.set_params(warm_start=True, factors="nss").fit(curves)
        kfm = KalmanFactorModel(n_factors=1, maxiter=5).fit(curves)
        with pytest.raises(ValueError, match="previous fit's"):
            kfm.set_params(warm_start=True, n_factors=2).fit(curves)
        glss = GaussianLinearStateSpace(n_factors=2, maxiter=5, em_iter=0).fit(curves)
        with pytest.raises(ValueError, match="loadings have shape"):
            glss.set_params(warm_start=True, n_factors=3).fit(curves)
