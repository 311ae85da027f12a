"""scikit-learn estimators that train skyield's torch modules.

Window regressors (each row of ``X`` is one window ``(window, n_series)`` of history and
``y`` holds its targets): :class:`LSTMAttentionRegressor`, the LSTM with attention over the
window; :class:`LSTMRegressor`, the plain stacked LSTM.
"""

from skyield.models._lstm import LSTMRegressor
from skyield.models._lstm_attention import LSTMAttentionRegressor

__all__ = [
    "LSTMAttentionRegressor",
    "LSTMRegressor",
]
