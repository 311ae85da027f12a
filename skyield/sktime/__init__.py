"""sktime adapters: every skyield estimator as an sktime forecaster.

:class:`SkyieldForecaster` wraps a window regressor or a sequence model so that sktime's
``evaluate``, ``ForecastingGridSearchCV`` and pipelines forecast curve panels with it.
This is the only subpackage that imports sktime.
"""

from skyield.sktime._forecaster import SkyieldForecaster

__all__ = ["SkyieldForecaster"]
