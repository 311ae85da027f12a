"""sktime's own conformance suite on SkyieldForecaster around every window regressor.

See ``test_sktime_checks.py``; the models and the fixtures a model is excused from (with
the reason) are in ``_forecasters.py``.
"""

import pytest
from _forecasters import WINDOW_MODELS, check_around

pytestmark = [
    pytest.mark.filterwarnings("ignore:Sorting by default when concatenating"),
    pytest.mark.filterwarnings("ignore:Forecasters' predict_proba requires skpro"),
]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(WINDOW_MODELS))
def test_sktime_checks_around_every_window_regressor(name):
    check_around(name)
