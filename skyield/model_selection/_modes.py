"""How the backtest and the sktime adapter treat an estimator: window or sequence model."""

import inspect

from sklearn.base import is_regressor

__all__ = ["MODES", "accepts_families", "resolve_mode"]

MODES = ("auto", "window", "sequence")


def resolve_mode(estimator, mode):
    """How ``estimator`` is backtested: ``"window"`` or ``"sequence"``.

    ``mode="auto"`` picks "window" for a scikit-learn regressor and "sequence" for an
    estimator with ``forecast`` and ``update``; an explicit mode is checked against the
    methods it needs. Errors name the estimator and what it lacks.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    try:
        window_like = is_regressor(estimator)
    except (AttributeError, TypeError):
        window_like = False
    sequence_like = callable(getattr(estimator, "forecast", None)) and \
        callable(getattr(estimator, "update", None))
    name = type(estimator).__name__
    if mode == "auto":
        if window_like and sequence_like:
            raise ValueError(
                f"{name} is a regressor and has forecast/update: pass mode='window' or "
                f"mode='sequence' to say how to backtest it"
            )
        if window_like:
            return "window"
        if sequence_like:
            return "sequence"
        raise TypeError(
            f"cannot backtest {name}: it is neither a regressor (window model) nor has "
            f"forecast and update methods (sequence model)"
        )
    if mode == "window" and not callable(getattr(estimator, "predict", None)):
        raise TypeError(f"mode='window' needs a predict method, which {name} lacks")
    if mode == "sequence" and not sequence_like:
        raise TypeError(f"mode='sequence' needs forecast and update methods, which {name} lacks")
    return mode


def accepts_families(method):
    """Whether ``method`` takes a ``families=`` argument (multi-family panels)."""
    try:
        return "families" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
