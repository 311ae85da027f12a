"""The distributional heads shared by the deep forecasters (skyield.nn._heads)."""

import pickle

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

from skyield.nn import (
    DistributionOutput,
    GaussianNLL,
    LSTMAttentionNet,
    LSTMNet,
    QuantileCenterLoss,
    QuantileHeads,
    non_crossing_quantiles,
)
from skyield.nn._heads import _QuantileLayout


class Raw(torch.nn.Module):
    """A stand-in point network returning its input (batch, steps, targets * rows)."""

    def forward(self, x, return_attention=False):
        return (x, torch.ones(1)) if return_attention else x


def test_layout_and_raw_rows():
    layout = QuantileHeads(3, 2, quantiles=(0.05, 0.25, 0.5, 0.9), center="median").layout
    assert layout.below == [0.05, 0.25] and layout.above == [0.9]
    assert layout.has_median and not layout.median_offset
    assert layout.n_raw == 4                                 # centre + 3 increments
    mean_centre = QuantileHeads(3, 2, quantiles=(0.05, 0.5, 0.9), center="mean").layout
    assert mean_centre.median_offset and mean_centre.n_raw == 4   # + the median's offset
    assert DistributionOutput.n_raw("gaussian") == 2
    assert DistributionOutput.n_raw("quantile", (0.025, 0.975)) == 3
    assert DistributionOutput.n_raw("quantile", (0.025, 0.5, 0.975)) == 3


def test_non_crossing_quantiles_by_hand():
    layout = _QuantileLayout((0.1, 0.25, 0.75), "median")
    raw = torch.tensor([[[2.0], [0.3], [-1.0], [0.7]]])   # centre, below x2, above x1
    out = non_crossing_quantiles(raw, layout)
    steps = F.softplus(torch.tensor([0.3, -1.0]))
    expected = torch.stack([torch.tensor(2.0), 2.0 - steps.sum(), 2.0 - steps[0],
                            2.0 + F.softplus(torch.tensor(0.7))])
    torch.testing.assert_close(out[0, :, 0], expected)


@pytest.mark.parametrize("levels", [(0.025, 0.975), (0.1, 0.5, 0.9), (0.05, 0.25, 0.75)])
def test_distribution_output_quantile_layout(levels):
    n_steps, n_targets = 3, 2
    n_raw = DistributionOutput.n_raw("quantile", levels)
    wrapper = DistributionOutput(Raw(), n_targets=n_targets, distribution="quantile",
                                 quantiles=levels)
    torch.manual_seed(0)
    x = torch.randn(5, n_steps, n_targets * n_raw)
    out = wrapper(x)
    assert out.shape == (5, 1 + len(levels), n_steps * n_targets)
    # Output (step s, target t) reads the raw rows of its own (s, t) block.
    rows = x.reshape(5, n_steps, n_targets, n_raw)
    expected = non_crossing_quantiles(
        rows.permute(0, 3, 1, 2).reshape(5, n_raw, n_steps * n_targets), wrapper.layout)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(out[:, 0], rows[..., 0].reshape(5, -1))   # linear centre
    # Extra outputs of the wrapped module (attention weights) are passed through.
    value, attention = wrapper(x, return_attention=True)
    torch.testing.assert_close(value, out)
    assert torch.equal(attention, torch.ones(1))


def test_distribution_output_gaussian():
    wrapper = DistributionOutput(Raw(), n_targets=2, distribution="gaussian")
    x = torch.tensor([[[1.0, -30.0, 2.0, 4.0]]])   # one step, targets x (mean, raw std)
    out = wrapper(x)
    assert out.shape == (1, 2, 2)
    torch.testing.assert_close(out[0, 0], torch.tensor([1.0, 2.0]))
    torch.testing.assert_close(out[0, 1], F.softplus(torch.tensor([-30.0, 4.0])))
    assert torch.all(out[:, 1] >= 0)
    with pytest.raises(ValueError, match="distribution must be 'quantile' or 'gaussian'"):
        DistributionOutput(Raw(), n_targets=1, distribution="laplace")


levels_strategy = st.lists(
    st.floats(0.01, 0.99, allow_nan=False).map(lambda v: round(v, 3)),
    min_size=1, max_size=5, unique=True,
).map(sorted)


@settings(max_examples=30, deadline=None)
@given(levels=levels_strategy, net=st.sampled_from(["lstm", "attention"]),
       weight_scale=st.floats(0.01, 1000.0), input_scale=st.floats(1e-3, 1e6),
       seed=st.integers(0, 10_000))
def test_wrapped_lstm_quantiles_never_cross(levels, net, weight_scale, input_scale, seed):
    torch.manual_seed(seed)
    n_raw = DistributionOutput.n_raw("quantile", levels)
    if net == "lstm":
        inner = LSTMNet(n_series=2, n_outputs=2, n_targets=3 * n_raw, units=4)
    else:
        inner = LSTMAttentionNet(n_series=2, n_outputs=2, n_targets=3 * n_raw, units=4)
    wrapper = DistributionOutput(inner, n_targets=3, distribution="quantile",
                                 quantiles=levels).eval()
    with torch.no_grad():
        for parameter in wrapper.parameters():
            parameter.normal_(0.0, weight_scale)
        out = wrapper(torch.randn(8, 6, 2) * input_scale)
    out = out[0] if isinstance(out, tuple) else out
    assert out.shape == (8, 1 + len(levels), 2 * 3)
    assert torch.all(torch.diff(out[:, 1:].double(), dim=1) >= 0)


def test_losses_train_through_the_wrapper():
    torch.manual_seed(0)
    levels = (0.1, 0.5, 0.9)
    inner = LSTMNet(n_series=2, n_outputs=2, n_targets=DistributionOutput.n_raw(
        "quantile", levels), units=4)
    wrapper = DistributionOutput(inner, n_targets=1, distribution="quantile",
                                 quantiles=levels)
    x, target = torch.randn(16, 5, 2), torch.randn(16, 2)
    loss = QuantileCenterLoss(levels, gamma=1)(wrapper(x), target)
    loss.backward()
    assert all(p.grad is not None for p in wrapper.parameters())
    gaussian = DistributionOutput(LSTMNet(n_series=2, n_outputs=2, n_targets=2, units=4),
                                  n_targets=1, distribution="gaussian")
    assert torch.isfinite(GaussianNLL()(gaussian(x), target))
    # Picklable (no lambdas), as skorch nets must be.
    restored = pickle.loads(pickle.dumps(wrapper))
    torch.testing.assert_close(restored.eval()(x), wrapper.eval()(x))
