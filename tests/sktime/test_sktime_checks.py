"""sktime's own conformance suite on SkyieldForecaster.

The class is checked with every configuration of ``get_test_params`` (window regressors:
direct and recursive, levels and differences, a skyield model and a scikit-learn one);
the suite on a sequence model is in ``test_sktime_forecaster.py``. Checks excluded for a
structural reason would be listed in the class tag ``tests:skip_by_name``; it is empty:
every check passes.
"""

import pytest
from sktime.utils.estimator_checks import check_estimator

from skyield.sktime import SkyieldForecaster

# Raised inside sktime's own code (its update_predict under pandas 3, its predict_proba
# without the optional skpro), not by the adapter.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Sorting by default when concatenating"),
    pytest.mark.filterwarnings("ignore:Forecasters' predict_proba requires skpro"),
]


def _failures(results):
    return {name: repr(outcome)[:300] for name, outcome in results.items()
            if outcome != "PASSED"}


def test_skip_list_is_empty():
    assert SkyieldForecaster.get_class_tag("tests:skip_by_name") == []


@pytest.mark.slow
def test_sktime_checks_on_every_test_configuration():
    results = check_estimator(
        SkyieldForecaster, verbose=False,
        tests_to_exclude=SkyieldForecaster.get_class_tag("tests:skip_by_name"),
    )
    assert len(results) > 1000
    assert _failures(results) == {}
