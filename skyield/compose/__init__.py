"""Meta-estimators that compose skyield models.

:class:`PerFamily` fits one clone of a sequence model per curve family of a
(family, date) panel and forecasts them together; :class:`InChanges` makes any
regressor on windows model the changes of the series; :class:`ForecastCombination`
(window regressors) and :class:`SequenceForecastCombination` (sequence models) combine
the forecasts of several models with weights learned on their out-of-sample errors
inside the training span.

The combinations use the time-series splitters of :mod:`skyield.model_selection` for
their inner split: this package sits above it.
"""

from skyield.compose._forecast_combination import ForecastCombination
from skyield.compose._in_changes import InChanges
from skyield.compose._per_family import PerFamily
from skyield.compose._sequence_combination import SequenceForecastCombination

__all__ = ["ForecastCombination", "InChanges", "PerFamily", "SequenceForecastCombination"]
