"""scikit-learn's estimator checks on every public skyield estimator.

Each estimator provides ``get_test_params()``: a list of small parameter dicts, each of
which is checked. Checks an estimator cannot pass are listed in ``EXCLUSIONS``, the one
place where exclusions live, each with its reason.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skyield.utils.discovery import all_estimators

_ROW_ORDER = (
    "sequence model: rows are consecutive dates, so results depend on their order "
    "and on the rows before them"
)

# {estimator class name: {check name: reason}}
EXCLUSIONS = {
    # --- skyield.baselines window regressors and curve fitting ---
    "RandomWalk": {
        "check_regressor_multioutput": (
            "the targets are input series: the check's 5 targets do not match its 2-D X, "
            "read as one series of n_features lags"
        ),
    },
    "WeightedRollingRegression": {
        "check_regressor_multioutput": (
            "forecasts the one series named by target; the check passes 5 target columns"
        ),
    },
    "NelsonSiegelCurve": dict.fromkeys(
        ["check_estimators_overwrite_params", "check_estimators_fit_returns_self",
         "check_readonly_memmap_input", "check_fit_idempotent", "check_fit_check_is_fitted",
         "check_n_features_in"],
        "a Nelson-Siegel curve needs at least 3 maturities; this check fits 2 features",
    ),
    "DynamicNelsonSiegel": {
        **dict.fromkeys(
            ["check_estimators_overwrite_params", "check_estimators_fit_returns_self",
             "check_readonly_memmap_input", "check_fit_idempotent",
             "check_fit_check_is_fitted", "check_n_features_in"],
            "Nelson-Siegel curves need at least 3 maturities; this check fits 2 features "
            "(one-date windows of 2 maturities)",
        ),
        "check_requires_y_none": "fit(Y) with y=None is the panel (sequence) mode by design",
        "check_regressor_multioutput": (
            "y holds maturities of the input curves (one, targets=-1, in the test params); "
            "the check passes 5 target columns for 10 maturities"
        ),
    },
    # --- skyield.baselines sequence models ---
    "KalmanFactorModel": dict.fromkeys(
        ["check_methods_subset_invariance", "check_methods_sample_order_invariance"],
        _ROW_ORDER + " (transform and predict run the Kalman filter through the dates in "
        "order)",
    ),
    "GaussianLinearStateSpace": dict.fromkeys(
        ["check_methods_subset_invariance", "check_methods_sample_order_invariance"],
        _ROW_ORDER + " (transform and predict run the Kalman filter through the dates in "
        "order)",
    ),
    # --- skyield.models sequence models ---
    "FactorTransformer": dict.fromkeys(
        ["check_methods_subset_invariance", "check_methods_sample_order_invariance"],
        _ROW_ORDER + " (each date's factor comes from the window of dates ending at it)",
    ),
    "NeuralStateSpaceModel": dict.fromkeys(
        ["check_methods_subset_invariance", "check_methods_sample_order_invariance"],
        _ROW_ORDER + " (transform runs the Kalman filter through the dates in order)",
    ),
    # --- skyield.models multiple-yield-curve models ---
    "TransferredCurveRegressor": {
        "check_estimators_overwrite_params": (
            "the source parameter is a fitted torch network, whose joblib.hash differs "
            "between two calls on the same unchanged object; tests/models/"
            "test_yield_curve_attention.py checks that the source's weights are unchanged"
        ),
    },
}


def _instances():
    for name, estimator_class in all_estimators():
        for params in estimator_class.get_test_params():
            yield estimator_class(**params)


def _expected_failed_checks(estimator):
    return EXCLUSIONS.get(type(estimator).__name__, {})


def test_every_estimator_has_test_params():
    for name, estimator_class in all_estimators():
        params = estimator_class.get_test_params()
        assert params, f"{name}.get_test_params() returned no parameter sets"


@parametrize_with_checks(list(_instances()), expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
