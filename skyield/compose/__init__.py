"""Meta-estimators that compose skyield models.

:class:`PerFamily` fits one clone of a sequence model per curve family of a
(family, date) panel and forecasts them together; :class:`InChanges` makes any
regressor on windows model the changes of the series.
"""

from skyield.compose._in_changes import InChanges
from skyield.compose._per_family import PerFamily

__all__ = ["InChanges", "PerFamily"]
