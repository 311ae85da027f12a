"""sktime's own conformance suite on SkyieldForecaster, around every skyield model.

The class is checked with every configuration of its ``get_test_params``, and then around
each sequence model of the package here and each window regressor in
``test_sktime_checks_window.py`` (two files, so that they run in parallel). The models
and their tiny settings are in ``_forecasters.py``. A model that cannot be fitted on some
of sktime's fixed test series is excused from exactly those fixtures, with the reason, in
``_forecasters.CANNOT_TAKE``; any other failure fails the test, and an excuse that is no
longer needed fails it too.
"""

import pytest
from _forecasters import SEQUENCE_MODELS, check_around
from sktime.utils.estimator_checks import check_estimator

from skyield.sktime import SkyieldForecaster

# Raised inside sktime's own code (its update_predict under pandas 3, its predict_proba
# without the optional skpro), not by the adapter.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Sorting by default when concatenating"),
    pytest.mark.filterwarnings("ignore:Forecasters' predict_proba requires skpro"),
]


def test_skip_list_is_empty():
    assert SkyieldForecaster.get_class_tag("tests:skip_by_name") == []


@pytest.mark.slow
def test_sktime_checks_on_every_test_configuration():
    results = check_estimator(
        SkyieldForecaster, verbose=False,
        tests_to_exclude=SkyieldForecaster.get_class_tag("tests:skip_by_name"),
    )
    assert len(results) > 1000
    failures = {name: repr(outcome)[:300] for name, outcome in results.items()
                if outcome != "PASSED"}
    assert failures == {}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SEQUENCE_MODELS))
def test_sktime_checks_around_every_sequence_model(name):
    check_around(name)
