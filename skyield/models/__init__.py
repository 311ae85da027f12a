"""scikit-learn estimators that train skyield's torch modules.

Window regressors (each row of ``X`` is one window ``(window, n_series)`` of history and
``y`` holds its targets): :class:`LSTMAttentionRegressor`, the LSTM with attention over the
window; :class:`LSTMRegressor`, the plain stacked LSTM; :class:`YieldCurveAttentionRegressor`
(YC_ATT and its variants) and :class:`TransferredCurveRegressor`, its transfer to a new set
of curves.

Sequence models (``fit(Y)`` on a panel of consecutive dates): :class:`FactorTransformer`
and :class:`NeuralStateSpaceModel`.
"""

from skyield.models._factor_transformer import FactorTransformer
from skyield.models._lstm import LSTMRegressor
from skyield.models._lstm_attention import LSTMAttentionRegressor
from skyield.models._neural_state_space import NeuralStateSpaceModel
from skyield.models._yc_transfer import TransferredCurveRegressor
from skyield.models._yield_curve_attention import YieldCurveAttentionRegressor

__all__ = [
    "FactorTransformer",
    "LSTMAttentionRegressor",
    "LSTMRegressor",
    "NeuralStateSpaceModel",
    "TransferredCurveRegressor",
    "YieldCurveAttentionRegressor",
]
