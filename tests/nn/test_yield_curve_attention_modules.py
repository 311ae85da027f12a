import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.func import functional_call, stack_module_state, vmap

from skyield.nn import GaussianHeads, GaussianNLL, QuantileCenterLoss, QuantileHeads
from skyield.nn._yield_curve_attention import (
    CausalConv,
    SelfAttention,
    TimeLSTM,
    TransformerBlock,
    YieldCurveAttentionNet,
)

EXTRACTORS = ("attention", "conv", "lstm", "transformer")


def test_self_attention_shapes_and_softmax_rows():
    torch.manual_seed(0)
    layer = SelfAttention(n_inputs=5, units=3)
    out, weights = layer(torch.randn(7, 4, 5))
    assert out.shape == (7, 4, 3) and weights.shape == (7, 4, 4)
    assert torch.all(weights >= 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(7, 4))
    assert layer.scale.requires_grad
    expected_scale = torch.tensor(1 / np.sqrt(3), dtype=torch.float32)
    torch.testing.assert_close(layer.scale.detach(), expected_scale)


def test_self_attention_is_the_scaled_dot_product():
    torch.manual_seed(0)
    layer = SelfAttention(n_inputs=2, units=3)
    x = torch.randn(1, 4, 2)
    q, k, v = (torch.tanh(lin(x)) for lin in (layer.query, layer.key, layer.value))
    expected = torch.softmax(layer.scale * q @ k.transpose(1, 2), -1) @ v
    torch.testing.assert_close(layer(x)[0], expected)


@pytest.mark.parametrize("module", [CausalConv(3, 4, kernel_size=3), TimeLSTM(3, 4),
                                    CausalConv(3, 4, kernel_size=1)])
def test_causal_extractors_do_not_see_the_future(module):
    torch.manual_seed(0)
    x = torch.randn(2, 6, 3)
    changed = x.clone()
    changed[:, 4:] += 1.0
    out, weights = module(x)
    assert weights is None and out.shape == (2, 6, 4)
    torch.testing.assert_close(module(changed)[0][:, :4], out[:, :4])
    assert not torch.allclose(module(changed)[0][:, 4:], out[:, 4:])


def test_time_lstm_matches_torch_lstm():
    torch.manual_seed(0)
    mine = TimeLSTM(3, 5)
    reference = torch.nn.LSTM(3, 5, batch_first=True)
    with torch.no_grad():
        reference.weight_ih_l0.copy_(mine.input_gates.weight)
        reference.bias_ih_l0.copy_(mine.input_gates.bias)
        reference.weight_hh_l0.copy_(mine.hidden_gates.weight)
        reference.bias_hh_l0.zero_()
    x = torch.randn(4, 7, 3)
    torch.testing.assert_close(mine(x)[0], reference(x)[0])
    # Keras' unit_forget_bias: the forget gate starts open.
    assert torch.all(mine.input_gates.bias[5:10] == 1.0)


def test_transformer_block_follows_the_listing():
    torch.manual_seed(0)
    block = TransformerBlock(3, 4).eval()
    x = torch.randn(2, 5, 3)
    out, weights = block(x)
    intermediate = block.conv(x)[0]
    attended, expected_weights = block.attention(intermediate)
    residual = intermediate + attended
    expected = torch.tanh(block.contract(torch.tanh(block.expand(residual)))) + residual
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(weights, expected_weights)
    assert block.expand.out_features == 16


def test_paper_heads_are_equations_4_1_to_4_3():
    torch.manual_seed(0)
    heads = QuantileHeads(6, 3, quantiles=(0.025, 0.975))
    z = torch.randn(5, 6)
    raw = heads.linear(z).view(5, 3, 3)
    out = heads(z)
    center = torch.sigmoid(raw[:, 0])
    torch.testing.assert_close(out[:, 0], center)
    torch.testing.assert_close(out[:, 1], center - torch.sigmoid(raw[:, 1]))
    torch.testing.assert_close(out[:, 2], center + torch.sigmoid(raw[:, 2]))


def test_median_level_is_the_centre_when_the_centre_is_the_median():
    torch.manual_seed(0)
    z = torch.randn(4, 6)
    median = QuantileHeads(6, 2, quantiles=(0.1, 0.5, 0.9), center="median")
    out = median(z)
    torch.testing.assert_close(out[:, 2], out[:, 0])
    mean = QuantileHeads(6, 2, quantiles=(0.1, 0.5, 0.9), center="mean")
    assert mean.linear.out_features == 4 * 2   # centre, two increments, median offset
    out = mean(z)
    assert torch.all(out[:, 1] <= torch.minimum(out[:, 0], out[:, 2]))
    assert torch.all(out[:, 3] >= torch.maximum(out[:, 0], out[:, 2]))


levels_strategy = st.lists(
    st.floats(0.01, 0.99, allow_nan=False).map(lambda v: round(v, 3)),
    min_size=1, max_size=6, unique=True,
).map(sorted)


@settings(max_examples=40, deadline=None)
@given(levels=levels_strategy, center=st.sampled_from(["median", "mean"]),
       spread=st.sampled_from(["sigmoid", "softplus"]),
       output=st.sampled_from(["sigmoid", "linear"]),
       weight_scale=st.floats(0.01, 100.0), seed=st.integers(0, 10_000))
def test_quantiles_never_cross_for_any_weights(levels, center, spread, output, weight_scale,
                                               seed):
    torch.manual_seed(seed)
    heads = QuantileHeads(5, 3, quantiles=levels, center=center, output_activation=output,
                          spread_activation=spread)
    with torch.no_grad():
        for parameter in heads.parameters():
            parameter.normal_(0.0, weight_scale)
    out = heads(torch.randn(16, 5) * weight_scale).double()
    quantiles = out[:, 1:]
    assert quantiles.shape == (16, len(levels), 3)
    assert torch.all(torch.diff(quantiles, dim=1) >= 0)
    below = [i for i, q in enumerate(levels) if q < 0.5]
    above = [i for i, q in enumerate(levels) if q > 0.5]
    assert heads.layout.below == [levels[i] for i in below]
    assert heads.layout.above == [levels[i] for i in above]
    assert heads.layout.has_median == (0.5 in levels)
    if below:
        assert torch.all(quantiles[:, below[-1]] <= out[:, 0])
    if above:
        assert torch.all(quantiles[:, above[0]] >= out[:, 0])


def test_quantile_center_loss_is_equation_4_4():
    torch.manual_seed(0)
    output = torch.randn(8, 3, 4)
    target = torch.randn(8, 4)
    levels = (0.025, 0.975)
    expected_pinball = 0.0
    for k, tau in enumerate(levels):
        u = target - output[:, 1 + k]
        expected_pinball += torch.where(u > 0, tau * u, (tau - 1) * u).mean()
    loss1 = QuantileCenterLoss(levels, gamma=1)(output, target)
    loss2 = QuantileCenterLoss(levels, gamma=2)(output, target)
    torch.testing.assert_close(loss1, (target - output[:, 0]).abs().mean() + expected_pinball)
    torch.testing.assert_close(loss2, (target - output[:, 0]).square().mean() + expected_pinball)


def test_gaussian_nll_matches_torch():
    torch.manual_seed(0)
    mean, std = torch.randn(6, 3), torch.rand(6, 3) + 0.1
    target = torch.randn(6, 3)
    ours = GaussianNLL()(torch.stack([mean, std], 1), target)
    torch.testing.assert_close(ours, torch.nn.GaussianNLLLoss()(mean, target, std ** 2))
    heads = GaussianHeads(4, 3)
    out = heads(torch.randn(5, 4))
    assert out.shape == (5, 2, 3) and torch.all(out[:, 1] > 0)


@pytest.mark.parametrize("extractor", EXTRACTORS)
@pytest.mark.parametrize("distribution", ["quantile", "gaussian"])
def test_network_shapes(extractor, distribution):
    torch.manual_seed(0)
    net = YieldCurveAttentionNet(n_series=3, n_outputs=2, window=4, n_families=3,
                                 extractor=extractor, units=5, embedding_size=2,
                                 quantiles=(0.05, 0.5, 0.95), distribution=distribution)
    yields, family = torch.randn(6, 4, 3), torch.tensor([0, 1, 2, 0, 1, 2])
    out = net(yields, family)
    assert out.shape == ((6, 4, 2) if distribution == "quantile" else (6, 2, 2))
    _, attention = net(yields, family, return_attention=True)
    if extractor in ("attention", "transformer"):
        assert attention.shape == (6, 4, 4)
    else:
        assert attention is None
    _, features = net.eval()(yields, family, return_features=True)
    assert features.shape == (6, 2 + 4 * 5)
    torch.testing.assert_close(features[:, :2], net.embedding(family))


def test_adapter_maps_a_new_grid_and_embedding_can_be_off():
    net = YieldCurveAttentionNet(n_series=2, n_outputs=2, window=3, units=4,
                                 embedding_size=0, adapter_outputs=5)
    assert net.adapter.in_features == 2 and net.adapter.out_features == 5
    assert net.extractor.query.in_features == 5
    assert net.embedding is None
    assert net(torch.randn(4, 3, 2)).shape == (4, 3, 2)


@pytest.mark.parametrize("extractor", EXTRACTORS)
def test_every_extractor_trains_under_vmap(extractor):
    torch.manual_seed(0)
    nets = [YieldCurveAttentionNet(3, 3, 4, n_families=2, extractor=extractor, units=4)
            for _ in range(3)]
    params, buffers = stack_module_state(nets)
    base = YieldCurveAttentionNet(3, 3, 4, n_families=2, extractor=extractor,
                                  units=4).to("meta")
    yields, family = torch.randn(3, 5, 4, 3), torch.randint(0, 2, (3, 5))

    def call(p, b, x, f):
        return functional_call(base, (p, b), (x, f))

    out = vmap(call, randomness="different")(params, buffers, yields, family)
    assert out.shape == (3, 5, 3, 3)
    base.eval()
    out_eval = vmap(call)(params, buffers, yields, family)
    for k, net in enumerate(nets):
        torch.testing.assert_close(out_eval[k], net.eval()(yields[k], family[k]))


# ---------------------------------------------------------------- residual skip connection
@pytest.mark.parametrize("distribution", ["quantile", "gaussian"])
@pytest.mark.parametrize("output", ["sigmoid", "linear"])
def test_residual_shapes_and_the_skip_passes_the_last_curve(distribution, output):
    torch.manual_seed(0)
    horizons, n_series = 2, 3
    net = YieldCurveAttentionNet(n_series, horizons * n_series, window=4, n_families=2,
                                 units=4, distribution=distribution,
                                 quantiles=(0.05, 0.5, 0.95), output_activation=output,
                                 residual=True).eval()
    yields, family = torch.randn(5, 4, n_series), torch.tensor([0, 1, 0, 1, 0])
    out = net(yields, family)
    assert out.shape == ((5, 4, 6) if distribution == "quantile" else (5, 2, 6))
    last = yields[:, -1].repeat(1, horizons)        # horizon-major: (h1 series, h2 series)
    assert not torch.allclose(out[:, 0], last)
    with torch.no_grad():
        net.heads.linear.weight.zero_()
        net.heads.linear.bias.zero_()
    out = net(yields, family)
    # Heads that output zero give the last curve at every horizon (the random walk) ...
    torch.testing.assert_close(out[:, 0], last)
    torch.testing.assert_close(out[:, 0, :n_series], yields[:, -1])
    torch.testing.assert_close(out[:, 0, n_series:], yields[:, -1])
    if distribution == "quantile":
        # ... and quantiles that step off it by phi_plus(0) per level, in order.
        step = torch.sigmoid(torch.tensor(0.0))
        torch.testing.assert_close(out[:, 1], last - step)
        torch.testing.assert_close(out[:, 2], last)         # 0.5: the median centre
        torch.testing.assert_close(out[:, 3], last + step)


def test_residual_is_a_shift_of_the_level_network():
    torch.manual_seed(0)
    level = YieldCurveAttentionNet(3, 3, window=4, units=4, output_activation="linear").eval()
    residual = YieldCurveAttentionNet(3, 3, window=4, units=4, output_activation="linear",
                                      residual=True).eval()
    residual.load_state_dict(level.state_dict())
    yields = torch.randn(6, 4, 3)
    torch.testing.assert_close(residual(yields) - level(yields),
                               yields[:, -1:].expand(-1, 3, -1))


def test_residual_is_seeded_and_trains_under_vmap():
    def build(seed):
        torch.manual_seed(seed)
        return YieldCurveAttentionNet(3, 3, 4, n_families=2, units=4, residual=True)

    yields = torch.randn(5, 4, 3)
    first, again, other = build(0).eval(), build(0).eval(), build(1).eval()
    torch.testing.assert_close(first(yields), again(yields), rtol=0, atol=0)
    assert not torch.allclose(first(yields), other(yields))
    nets = [build(seed) for seed in range(3)]
    params, buffers = stack_module_state(nets)
    base = build(0).to("meta").eval()
    batch = torch.randn(3, 5, 4, 3)
    out = vmap(lambda p, b, x: functional_call(base, (p, b), (x,)))(params, buffers, batch)
    for k, net in enumerate(nets):
        torch.testing.assert_close(out[k], net.eval()(batch[k]))


def test_residual_needs_outputs_that_repeat_the_input_curve():
    with pytest.raises(ValueError, match=r"n_outputs \(4\) must be a multiple of n_series "
                                         r"\(3\)"):
        YieldCurveAttentionNet(3, 4, 4, residual=True)


def test_unknown_extractor_or_distribution():
    with pytest.raises(ValueError, match="extractor must be one of"):
        YieldCurveAttentionNet(3, 3, 4, extractor="gru")
    with pytest.raises(ValueError, match="distribution must be"):
        YieldCurveAttentionNet(3, 3, 4, distribution="laplace")
