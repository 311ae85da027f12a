"""scikit-learn's estimator checks on every public skyield estimator.

Each estimator provides ``get_test_params()``: a list of small parameter dicts, each of
which is checked. Checks an estimator cannot pass are listed in ``EXCLUSIONS``, the one
place where exclusions live, each with its reason.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skyield.utils.discovery import all_estimators

_ROW_ORDER = (
    "sequence model: rows are consecutive dates, so results depend on their order "
    "and on the rows before them"
)

# {estimator class name: {check name: reason}}
EXCLUSIONS = {
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
