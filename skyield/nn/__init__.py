"""PyTorch modules of skyield's deep models (architecture only: no data handling).

LSTM family: :class:`LSTMCell` and :class:`DropoutLSTM` are LSTM building blocks with the
textbook gate equations and variational recurrent dropout; :class:`LSTMNet` is the plain
LSTM forecaster and :class:`LSTMAttentionNet` the LSTM encoder-decoder with additive
attention (:class:`AdditiveAttention`) over the input window.

Distributional heads: non-crossing quantile and Gaussian heads and their losses
(:class:`QuantileHeads`, :class:`GaussianHeads`, :class:`DistributionOutput`,
:class:`QuantileCenterLoss`, :class:`GaussianNLL`).

Yield-curve attention: :class:`YieldCurveAttentionNet` with its feature extractors.

Factor models: :class:`NeuralLoadings` (smooth factor loadings of maturity) and
:class:`FactorTransformerNet` with its layers and loss.

The scikit-learn estimators that train them live in :mod:`skyield.models`.
"""

from skyield.nn._factor_transformer import (
    FactorTransformerLoss,
    FactorTransformerNet,
    InitialEncoderLayer,
    MeasurementEncoderLayer,
    MultiHeadAttention,
    StateEncoderLayer,
    TokenEmbedding,
)
from skyield.nn._heads import (
    DistributionOutput,
    GaussianHeads,
    GaussianNLL,
    QuantileCenterLoss,
    QuantileHeads,
    non_crossing_quantiles,
)
from skyield.nn._lstm import DropoutLSTM, LSTMCell, LSTMGates, LSTMNet
from skyield.nn._lstm_attention import AdditiveAttention, LSTMAttentionNet
from skyield.nn._neural_loadings import NeuralLoadings
from skyield.nn._yield_curve_attention import (
    CausalConv,
    SelfAttention,
    TimeLSTM,
    TransformerBlock,
    YieldCurveAttentionNet,
)

__all__ = [
    "AdditiveAttention",
    "CausalConv",
    "DistributionOutput",
    "DropoutLSTM",
    "FactorTransformerLoss",
    "FactorTransformerNet",
    "GaussianHeads",
    "GaussianNLL",
    "InitialEncoderLayer",
    "LSTMAttentionNet",
    "LSTMCell",
    "LSTMGates",
    "LSTMNet",
    "MeasurementEncoderLayer",
    "MultiHeadAttention",
    "NeuralLoadings",
    "QuantileCenterLoss",
    "QuantileHeads",
    "SelfAttention",
    "StateEncoderLayer",
    "TimeLSTM",
    "TokenEmbedding",
    "TransformerBlock",
    "YieldCurveAttentionNet",
    "non_crossing_quantiles",
]
