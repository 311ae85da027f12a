"""Declarative parameter validation: constraints, messages, and the estimators' use of them."""

from numbers import Integral, Real

import numpy as np
import pytest
from sklearn.base import BaseEstimator

from skyield.baselines import KalmanFactorModel, RandomWalk, WeightedRollingRegression
from skyield.utils import HasMethods, Interval, Options, Satisfies, check_param, validate_params


@pytest.mark.parametrize("constraint, good, bad", [
    (Interval(Integral, 1, None), [1, np.int64(7)], [0, 1.0, True, "2", None]),
    (Interval(Real, 0, 1, closed="neither"), [0.5, 1e-9, np.float32(0.2)],
     [0, 1, np.nan, np.inf, False]),
    (Interval(Real, 0, None, closed="neither"), [3, 0.1], [0, -1.0, np.inf]),
    (Interval(Integral, None, None), [-5, 0, 5], [0.5, np.bool_(True)]),
    (Interval(Real, 0, 1, closed="left"), [0.0, 0.99], [1.0]),
    (Options("ar", "var"), ["ar", "var"], ["AR", 1, None]),
    (Options(1, "row"), [1, "row", np.int64(1)], [True, "1", 2]),
    (HasMethods("fit", "predict"), [RandomWalk()], [object(), "fit"]),
    (Satisfies(lambda v: len(v) == 2, "a pair"), [(1, 2), [3, 4]], [(1,), 5]),
])
def test_constraints_accept_and_refuse(constraint, good, bad):
    for value in good:
        assert constraint.is_satisfied_by(value), value
    for value in bad:
        assert not constraint.is_satisfied_by(value), value


def test_check_param_messages_list_what_is_allowed():
    assert check_param(3, "steps", [Interval(Integral, 1, None)]) == 3
    with pytest.raises(ValueError, match=r"^steps must be an integer in \[1, inf\), got 0$"):
        check_param(0, "steps", [Interval(Integral, 1, None)])
    with pytest.raises(ValueError, match=r"^Model: half_life must be None or a number in "
                                         r"\(0, inf\), got -1$"):
        check_param(-1, "half_life", [None, Interval(Real, 0, None, closed="neither")],
                    owner="Model")
    with pytest.raises(ValueError, match=r"window must be None, an integer in \[1, inf\) or "
                                         r"one of 'row', got 'rows'"):
        check_param("rows", "window", [None, Interval(Integral, 1, None), Options("row")])
    for value in (True, np.bool_(False)):
        assert check_param(value, "flag", ["boolean"]) is value
    with pytest.raises(ValueError, match="flag must be True or False, got 1"):
        check_param(1, "flag", ["boolean"])
    with pytest.raises(ValueError, match="unknown constraint 'positive'"):
        check_param(1, "x", ["positive"])
    with pytest.raises(ValueError, match="must be an instance of str, got 2"):
        check_param(2, "name", [str])
    check_param(np.random.RandomState(0), "random_state", ["random_state"])
    with pytest.raises(ValueError, match="random_state must be None, an integer"):
        check_param(1.5, "random_state", ["random_state"])


class _Declared(BaseEstimator):
    _parameter_constraints = {"alpha": [Interval(Real, 0, None)], "mode": [Options("a")]}

    def __init__(self, *, alpha=1.0, mode="a"):
        self.alpha = alpha
        self.mode = mode


class _Undeclared(BaseEstimator):
    _parameter_constraints = {"alpha": [Interval(Real, 0, None)]}

    def __init__(self, *, alpha=1.0, beta=2):
        self.alpha = alpha
        self.beta = beta


def test_validate_params_names_the_estimator_and_the_parameter():
    validate_params(_Declared())
    with pytest.raises(ValueError, match="_Declared: alpha must be a number in \\[0, inf\\)"):
        validate_params(_Declared(alpha=-1))
    with pytest.raises(ValueError, match="_Declared: mode must be one of 'a', got 'b'"):
        validate_params(_Declared(mode="b"))
    # Every constructor parameter needs an entry: a missing one is a programming error.
    with pytest.raises(TypeError, match="has no entry for 'beta'"):
        validate_params(_Undeclared())
    with pytest.raises(TypeError, match="declares no _parameter_constraints"):
        validate_params(BaseEstimator())


@pytest.mark.parametrize("estimator, message", [
    (RandomWalk(horizons=[3, 1]), "RandomWalk: horizons must be None, an integer in "
                                  "\\[1, inf\\) or a list of strictly increasing"),
    (RandomWalk(window=0), "RandomWalk: window must be None, an integer in \\[1, inf\\)"),
    (RandomWalk(targets="10Y"), "RandomWalk: targets must be None"),
    (WeightedRollingRegression(differences="yes"),
     "WeightedRollingRegression: differences must be True or False"),
    (WeightedRollingRegression(fit_intercept=1),
     "WeightedRollingRegression: fit_intercept must be True or False"),
    (KalmanFactorModel(maxiter=2.5), "KalmanFactorModel: maxiter must be an integer"),
])
def test_estimators_check_their_parameters_at_the_top_of_fit(estimator, message):
    # Before the data are looked at: this 2-D X without window would also be refused.
    with pytest.raises(ValueError, match=message):
        estimator.fit(np.zeros((3, 2)), np.zeros(3))


def test_hyper_parameters_are_keyword_only():
    for cls in (RandomWalk, WeightedRollingRegression, KalmanFactorModel):
        with pytest.raises(TypeError):
            cls(1)
