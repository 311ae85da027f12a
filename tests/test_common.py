"""scikit-learn's estimator checks on every public skyield estimator.

Each estimator provides ``get_test_params()``: a list of small parameter dicts, each of
which is checked. Checks an estimator cannot pass are listed in ``EXCLUSIONS``, the one
place where exclusions live, each with its reason.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skyield.utils.discovery import all_estimators

# {estimator class name: {check name: reason}}. Every reason quotes the error the check
# raises (rerun a check without its entry to see it) and says why it is right.
_ROW_ORDER = (
    "sequence model: rows are consecutive dates and predict forecasts each row from the "
    "rows before it, so results depend on their order and on the rows kept. The check "
    "fails with: 'predict of {name} is not invariant when applied to a {what}'"
)
_THREE_MATURITIES = (
    "a Nelson-Siegel curve has 3 factors and needs at least 3 maturities; this check fits "
    "data with 2 features and fails with: '{message}'"
)


def _sequence_model(name):
    return {
        "check_methods_sample_order_invariance": _ROW_ORDER.format(
            name=name, what="dataset with different sample order"),
        "check_methods_subset_invariance": _ROW_ORDER.format(name=name, what="subset"),
    }


_NS_CHECKS = ["check_estimators_overwrite_params", "check_estimators_fit_returns_self",
              "check_readonly_memmap_input", "check_fit_idempotent",
              "check_fit_check_is_fitted", "check_n_features_in"]

EXCLUSIONS = {
    # --- window regressors that forecast their own input series ---
    "RandomWalk": {
        "check_regressor_multioutput": (
            "the targets are input series (targets=-1 or [0] in the test parameters); the "
            "check passes 5 target columns and fails with: 'targets names 1 series but y "
            "has 5 target column(s)'"
        ),
    },
    "WeightedRollingRegression": {
        "check_regressor_multioutput": (
            "the targets are input series (targets=0 in the test parameters, whose 2-D "
            "rows are the window of one series); the check passes 5 target columns and "
            "fails with: 'targets names 1 series but y has 5 target column(s)'"
        ),
    },
    "InChanges": {
        "check_regressor_multioutput": (
            "models the changes of its input series (targets=0 in the test parameters, "
            "whose 2-D rows are the window of one series); the check passes 5 target "
            "columns and fails with: 'targets names 1 series but y has 5 target column(s)'"
        ),
    },
    # --- Nelson-Siegel curves need three maturities ---
    "NelsonSiegelCurve": dict.fromkeys(_NS_CHECKS, _THREE_MATURITIES.format(
        message="3 factors need at least 3 maturities, got n_features=2")),
    "DynamicNelsonSiegel": {
        **dict.fromkeys(_NS_CHECKS, _THREE_MATURITIES.format(
            message="DynamicNelsonSiegel(factors='ns') needs at least 3 maturities, the "
                    "panel has 2 (n_features = 2)")),
        **_sequence_model("DynamicNelsonSiegel"),
    },
    # --- sequence models ---
    "KalmanFactorModel": _sequence_model("KalmanFactorModel"),
    "GaussianLinearStateSpace": _sequence_model("GaussianLinearStateSpace"),
    "NeuralStateSpaceModel": _sequence_model("NeuralStateSpaceModel"),
    "FactorTransformer": _sequence_model("FactorTransformer"),
    "PerFamily": _sequence_model("PerFamily"),
    # --- transfer of a fitted multi-curve network ---
    "TransferredCurveRegressor": {
        "check_estimators_overwrite_params": (
            "the source parameter holds a fitted skorch net, which pickles its module with "
            "torch's legacy serialisation, naming every tensor storage by its memory "
            "address; the check compares the joblib hash of a deep copy of the parameters "
            "(other addresses) with the parameters after the fit and fails with: "
            "'Estimator TransferredCurveRegressor should not change or mutate the "
            "parameter source__estimator'. tests/models/test_yield_curve_attention.py "
            "checks that the source's weights are unchanged"
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
