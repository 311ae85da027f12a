"""Time-series splitters (gap, split by date, sktime adapter) and the rolling-origin backtest."""

from skyield.model_selection._backtest import backtest, summarize
from skyield.model_selection._split import (
    ExpandingWindowSplit,
    SktimeSplit,
    SlidingWindowSplit,
    gap_for_horizons,
)

__all__ = [
    "ExpandingWindowSplit",
    "SktimeSplit",
    "SlidingWindowSplit",
    "backtest",
    "gap_for_horizons",
    "summarize",
]
