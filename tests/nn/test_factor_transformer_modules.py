import pytest
import torch

from skyield.nn._factor_transformer import (
    FactorTransformerLoss,
    FactorTransformerNet,
    MultiHeadAttention,
    TokenEmbedding,
)

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

K, P = 3, 4


@pytest.fixture
def net():
    torch.manual_seed(0)
    return FactorTransformerNet(n_series=K, window=P, d_model=8, n_heads=2, d_k=4, d_ff=16,
                                dropout=0.0).eval()


def test_parameter_count_of_table_4():
    # d_model 32, 4 heads, d_k 8, d_ff 64, H = 1, k = 5, P = 9: the paper's "26k".
    net = FactorTransformerNet(n_series=5, window=9)
    assert sum(p.numel() for p in net.parameters()) == 25952


def test_token_order_and_encodings():
    embedding = TokenEmbedding(n_series=K, window=P, d_model=6, encoding_scale=0.5)
    Y = torch.randn(2, P, K)
    tokens = embedding.embed_data(Y)
    assert tokens.shape == (2, P * K, 6)
    # vec(Y_t'): the k variables of the oldest date come first.
    encoding = embedding.data_encoding()
    for p in range(P):
        for i in range(K):
            token = p * K + i
            expected = Y[:, p, i, None] * embedding.value.weight[:, 0] + 0.5 * (
                embedding.positional[p] + embedding.variable[i])
            torch.testing.assert_close(tokens[:, token], expected)
            torch.testing.assert_close(encoding[token],
                                       embedding.positional[p] + embedding.variable[i])
    # Positional encodings are shared by the variables of a lag, variable encodings by lags.
    torch.testing.assert_close(encoding[0] - encoding[1],
                               embedding.variable[0] - embedding.variable[1])
    factor = embedding.embed_factor(torch.zeros(2, P))
    torch.testing.assert_close(
        factor[0], 0.5 * (embedding.positional + embedding.variable[K]))
    assert factor.shape == (2, P, 6)


def test_attention_shapes_and_rows_sum_to_one():
    attention = MultiHeadAttention(8, n_heads=2, d_k=3)
    out, weights = attention(torch.randn(5, P, 8), torch.randn(5, P * K, 8))
    assert out.shape == (5, P, 8) and weights.shape == (5, 2, P, P * K)
    torch.testing.assert_close(weights.sum(-1), torch.ones(5, 2, P))
    assert all(layer.bias is None for layer in (attention.query, attention.key,
                                                attention.value, attention.output))


def test_forward_shapes_and_details(net):
    Y = torch.randn(6, P, K)
    factor, prediction, details = net(Y, details=True)
    assert factor.shape == (6, P) and prediction.shape == (6, K)
    assert details["predictions"].shape == (6, P * K)
    torch.testing.assert_close(prediction, details["predictions"][:, -K:])
    assert details["state_attention"][-1].shape == (6, 2, P, P * K)
    assert details["measurement_attention"][-1].shape == (6, 2, P * K, P)
    assert set(details["stream"]) == {"Embed", "Norm1", "Attn", "Norm2", "FFN"}
    torch.testing.assert_close(details["stream"]["FFN"], factor)
    # x_init defaults to the mean over the variables (eq. 3 with the pointwise mean).
    torch.testing.assert_close(net(Y)[0], net(Y, Y.mean(-1))[0])


def test_stream_names_with_several_state_layers():
    net = FactorTransformerNet(n_series=K, window=P, d_model=8, n_heads=2, d_k=4, d_ff=16,
                               n_state_layers=2)
    _, _, details = net(torch.randn(2, P, K), details=True)
    assert "FFN_2" in details["stream"] and "Norm1_1" in details["stream"]
    assert len(details["state_attention"]) == 2


def test_measurement_attention_has_no_residual_skip(net):
    """With the Measurement attention output zeroed the predictions ignore the data."""
    Y1, Y2 = torch.randn(4, P, K), torch.randn(4, P, K)
    assert not torch.allclose(net(Y1)[1], net(Y2)[1])

    def zero_output(module, inputs, output):
        return torch.zeros_like(output[0]), output[1]

    handles = [layer.attention.register_forward_hook(zero_output)
               for layer in net.measurement_layers]
    try:
        torch.testing.assert_close(net(Y1)[1], net(Y2)[1])
        # The factor still depends on the data: only the measurement path is cut.
        assert not torch.allclose(net(Y1)[0], net(Y2)[0])
    finally:
        for handle in handles:
            handle.remove()


def test_state_attention_keeps_its_residual_skip(net):
    """Zeroing the State attention leaves a factor that still moves with x_init."""
    def zero_output(module, inputs, output):
        return torch.zeros_like(output[0]), output[1]

    handle = net.state_layers[0].attention.register_forward_hook(zero_output)
    try:
        Y = torch.randn(2, P, K)
        assert not torch.allclose(net(Y, torch.zeros(2, P))[0], net(Y, torch.ones(2, P))[0])
    finally:
        handle.remove()


def test_prediction_uses_only_the_factor_and_data_tokens(net):
    # The prediction for t+1 changes when only the latest date changes.
    Y = torch.randn(1, P, K)
    moved = Y.clone()
    moved[0, -1] += 1.0
    assert not torch.allclose(net(Y)[1], net(moved)[1])


def test_loss_uses_only_last_predictions_and_weights_terms():
    loss = FactorTransformerLoss(n_series=2, prior_weight=0.6)
    factor = torch.tensor([[0.0, 1.0, 2.0]])
    prediction = torch.tensor([[1.0, -1.0]])
    target = torch.tensor([[0.0, 0.0, 0.0, 1.0, 4.0]])  # y_{t+1} then the prior window
    prior_error = (0.0 + 0.0 + 2.0) / 3
    prediction_error = 1.0
    assert loss((factor, prediction), target).item() == pytest.approx(
        0.6 * prior_error + 0.4 * prediction_error)
    # Validation (eval mode) monitors the prediction error only.
    assert loss.eval()((factor, prediction), target).item() == pytest.approx(1.0)
    # Missing prior values are left out of the prior term.
    loss.train()
    target_nan = torch.tensor([[0.0, 0.0, float("nan"), 1.0, 4.0]])
    assert loss((factor, prediction), target_nan).item() == pytest.approx(
        0.6 * 1.0 + 0.4 * 1.0)


def test_loss_gradient_reaches_only_last_k_predictions(net):
    """Only the last k of the P*k token predictions enter the loss (section 2.6)."""
    net.train()
    Y = torch.randn(3, P, K)
    factor, prediction, details = net(Y, details=True)
    predictions = details["predictions"]
    predictions.retain_grad()
    target = torch.cat([torch.randn(3, K), torch.randn(3, P)], dim=1)
    FactorTransformerLoss(n_series=K, prior_weight=0.3)(
        (factor, predictions[:, -K:]), target).backward()
    assert torch.all(predictions.grad[:, :-K] == 0)
    assert torch.any(predictions.grad[:, -K:] != 0)


def test_same_seed_same_weights():
    torch.manual_seed(3)
    a = FactorTransformerNet(n_series=K, window=P, d_model=8, n_heads=2, d_k=4, d_ff=16)
    torch.manual_seed(3)
    b = FactorTransformerNet(n_series=K, window=P, d_model=8, n_heads=2, d_k=4, d_ff=16)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


@pytest.mark.gpu
@cuda
def test_forward_on_cuda():
    net = FactorTransformerNet(n_series=K, window=P, d_model=8, n_heads=2, d_k=4,
                               d_ff=16).cuda()
    factor, prediction = net(torch.randn(2, P, K, device="cuda"))
    assert factor.is_cuda and prediction.is_cuda
