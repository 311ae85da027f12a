"""The loading network ``g_theta`` of the neural network augmented state space model.

A feed-forward network maps a maturity ``m`` to ``k`` factor loadings; the first loading
is the constant 1 (the "level" column of a Nelson-Siegel decomposition), the other
``k - 1`` are the network's outputs (seed 004, section 3.1)::

    g_theta(m) = [1, phi_1(m), ..., phi_{k-1}(m)]

With two hidden layers of 300 tanh units and a sigmoid output the loadings are smooth
functions of the maturity, bounded in [0, 1], and defined at every maturity, observed or
not (section 4.1).
"""

import torch
from torch import nn

__all__ = ["NeuralLoadings", "ACTIVATIONS", "OUTPUT_ACTIVATIONS"]

#: Hidden-layer activations by name.
ACTIVATIONS = {
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "softplus": nn.Softplus,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "relu": nn.ReLU,
}

#: Output activations by name: "sigmoid" bounds the loadings in [0, 1], as in the seed.
OUTPUT_ACTIVATIONS = {
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
    "tanh": nn.Tanh,
}


class NeuralLoadings(nn.Module):
    """Feed-forward factor-loading function ``g_theta(m)`` with a constant first loading.

    Parameters
    ----------
    n_factors : int
        Number of factors ``k`` (>= 1); the network has ``k - 1`` outputs.
    hidden_layers : tuple of int, default=(300, 300)
        Width of each hidden layer, input to output. An empty tuple gives a single
        affine map from the maturity to the outputs.
    activation : {"tanh", "sigmoid", "softplus", "elu", "gelu", "silu", "relu"}, default="tanh"
        Activation after every hidden layer. Smooth activations give smooth loadings;
        "relu" gives piecewise-linear ones.
    output_activation : {"sigmoid", "identity", "tanh"}, default="sigmoid"
        Activation of the output layer: "sigmoid" bounds the loadings in [0, 1].
    maturity_scale : float, default=1.0
        The network reads ``m / maturity_scale``: a fixed rescaling of the input (in the
        unit of ``m``), so that the tanh units are not saturated by long maturities.

    Attributes
    ----------
    hidden : torch.nn.Sequential
        The hidden layers and their activations.
    output : torch.nn.Linear or None
        The output layer, of ``n_factors - 1`` units (None when ``n_factors=1``).

    References
    ----------
    Kauffmann, P. C., Takada, H. H., Terada, A. T. and Stern, J. M. (2022). Learning
    forecast-efficient yield curve factor decompositions with neural networks.
    Econometrics, 10(2), 15, sections 3.1 and 4.1.

    Examples
    --------
    >>> import torch
    >>> from skyield.nn import NeuralLoadings
    >>> _ = torch.manual_seed(0)
    >>> g = NeuralLoadings(n_factors=4, hidden_layers=(8, 8), maturity_scale=10.0)
    >>> loadings = g(torch.tensor([0.25, 1.0, 5.0, 10.0]))
    >>> loadings.shape
    torch.Size([4, 4])
    >>> loadings[:, 0].tolist()
    [1.0, 1.0, 1.0, 1.0]
    """

    def __init__(self, n_factors, hidden_layers=(300, 300), activation="tanh",
                 output_activation="sigmoid", maturity_scale=1.0):
        super().__init__()
        if isinstance(n_factors, bool) or not isinstance(n_factors, int) or n_factors < 1:
            raise ValueError(f"n_factors must be an integer >= 1, got {n_factors!r}")
        widths = tuple(hidden_layers)
        if any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths):
            raise ValueError(f"hidden_layers must be positive integers, got {hidden_layers!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}"
            )
        if output_activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(
                f"output_activation must be one of {sorted(OUTPUT_ACTIVATIONS)}, got "
                f"{output_activation!r}"
            )
        if not float(maturity_scale) > 0:
            raise ValueError(f"maturity_scale must be positive, got {maturity_scale!r}")
        self.n_factors = n_factors
        self.maturity_scale = float(maturity_scale)
        layers, width = [], 1
        for size in widths:
            layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
            width = size
        self.hidden = nn.Sequential(*layers)
        self.output = nn.Linear(width, n_factors - 1) if n_factors > 1 else None
        self.output_activation = OUTPUT_ACTIVATIONS[output_activation]()

    def forward(self, maturities):
        """Loadings at the given maturities.

        Parameters
        ----------
        maturities : Tensor of shape (..., n_maturities)
            Maturities, in the unit ``maturity_scale`` is given in (years in skyield).

        Returns
        -------
        loadings : Tensor of shape (..., n_maturities, n_factors)
            Column 0 is identically 1; columns 1 .. n_factors - 1 are the network outputs.
        """
        x = (maturities / self.maturity_scale)[..., None]
        if self.output is None:
            return torch.ones_like(x)
        x = x.to(self.output.weight.dtype)
        free = self.output_activation(self.output(self.hidden(x)))
        return torch.cat([torch.ones_like(x), free], dim=-1)
