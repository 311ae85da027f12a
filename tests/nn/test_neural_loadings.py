"""Tests of the loading network g_theta of the neural state space model."""

import numpy as np
import pytest
import torch

from skyield.nn._neural_loadings import NeuralLoadings


def _network(seed=0, **kwargs):
    torch.manual_seed(seed)
    params = {"n_factors": 4, "hidden_layers": (16, 16), "maturity_scale": 10.0}
    params.update(kwargs)
    return NeuralLoadings(**params).double()


def test_shape_and_constant_first_loading():
    g = _network()
    tau = torch.tensor([0.0, 1 / 12, 0.5, 3.0, 10.0, 30.0, 100.0], dtype=torch.float64)
    loadings = g(tau)
    assert loadings.shape == (7, 4)
    assert torch.equal(loadings[:, 0], torch.ones(7, dtype=torch.float64))


def test_batched_maturities():
    g = _network()
    tau = torch.rand(3, 5, dtype=torch.float64) * 10
    loadings = g(tau)
    assert loadings.shape == (3, 5, 4)
    torch.testing.assert_close(loadings[1], g(tau[1]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sigmoid_output_is_bounded(seed):
    g = _network(seed)
    # Large weights push the sigmoid to its limits; the loadings stay in [0, 1].
    with torch.no_grad():
        for p in g.parameters():
            p.mul_(20.0)
    loadings = g(torch.linspace(0, 50, 500, dtype=torch.float64))
    assert loadings.min() >= 0.0 and loadings.max() <= 1.0


def test_loadings_are_smooth():
    """Second differences on a fine grid shrink like h**2 (a bounded second derivative)."""
    g = _network(hidden_layers=(300, 300))
    curvature = []
    for h in (1e-2, 1e-3):
        tau = torch.arange(0.0, 10.0, h, dtype=torch.float64)
        with torch.no_grad():
            values = g(tau)[:, 1:]
        second = values[2:] - 2 * values[1:-1] + values[:-2]
        curvature.append(float(second.abs().max()) / h**2)
    assert curvature[0] < 10.0
    assert curvature[1] == pytest.approx(curvature[0], rel=0.05)


def test_relu_loadings_have_kinks():
    """The smoothness test above tells smooth from kinked loadings."""
    g = _network(activation="relu", hidden_layers=(300, 300))
    curvature = []
    for h in (1e-2, 1e-3):
        tau = torch.arange(0.0, 10.0, h, dtype=torch.float64)
        with torch.no_grad():
            values = g(tau)[:, 1:]
        second = values[2:] - 2 * values[1:-1] + values[:-2]
        curvature.append(float(second.abs().max()) / h**2)
    assert curvature[1] > 5 * curvature[0]


def test_single_factor_is_the_constant():
    g = _network(n_factors=1)
    loadings = g(torch.tensor([0.5, 2.0], dtype=torch.float64))
    assert torch.equal(loadings, torch.ones(2, 1, dtype=torch.float64))


def test_maturity_scale_rescales_the_input():
    g1 = _network(maturity_scale=1.0)
    g2 = _network(maturity_scale=7.0)
    tau = torch.tensor([0.5, 3.5, 7.0], dtype=torch.float64)
    torch.testing.assert_close(g2(tau), g1(tau / 7.0))


def test_identity_output_and_no_hidden_layer():
    g = _network(hidden_layers=(), output_activation="identity")
    tau = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    loadings = g(tau)
    # One affine map of the maturity: the free loadings are linear in it.
    step = loadings[1:, 1:] - loadings[:-1, 1:]
    torch.testing.assert_close(step[1], step[0])


def test_gradients_reach_every_parameter():
    g = _network()
    g(torch.linspace(0, 10, 20, dtype=torch.float64)).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in g.parameters())


@pytest.mark.parametrize("kwargs, match", [
    ({"n_factors": 0}, "n_factors"),
    ({"hidden_layers": (4, 0)}, "hidden_layers"),
    ({"activation": "swish"}, "activation"),
    ({"output_activation": "softmax"}, "output_activation"),
    ({"maturity_scale": 0.0}, "maturity_scale"),
])
def test_invalid_arguments(kwargs, match):
    params = {"n_factors": 3}
    params.update(kwargs)
    with pytest.raises(ValueError, match=match):
        NeuralLoadings(**params)


def test_state_dict_round_trip():
    g = _network()
    h = NeuralLoadings(4, (16, 16), maturity_scale=10.0).double()
    h.load_state_dict(g.state_dict())
    tau = torch.tensor(np.linspace(0, 10, 11))
    torch.testing.assert_close(g(tau), h(tau))
