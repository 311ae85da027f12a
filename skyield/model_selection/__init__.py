"""Time-series splitters (gap, split by date, sktime adapter), the rolling-origin backtest,
and models tuned by time-series cross-validation inside their training span."""

from skyield.model_selection._backtest import backtest, summarize
from skyield.model_selection._split import (
    ExpandingWindowSplit,
    SktimeSplit,
    SlidingWindowSplit,
    gap_for_horizons,
)
from skyield.model_selection._tuned import TunedSequenceModel, TunedWindowRegressor, tuned

__all__ = [
    "ExpandingWindowSplit",
    "SktimeSplit",
    "SlidingWindowSplit",
    "TunedSequenceModel",
    "TunedWindowRegressor",
    "backtest",
    "gap_for_horizons",
    "summarize",
    "tuned",
]
