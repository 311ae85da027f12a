import numpy as np
import pytest
import torch

from skyield.nn import AdditiveAttention, DropoutLSTM, LSTMAttentionNet, LSTMCell, LSTMNet
from skyield.nn import _lstm as lstm_module
from skyield.nn._lstm import recurrent_dropout_mask

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def exercise_7_1_weights(module_weights):
    """Set the weights of exercise 7.1 (seed 003): W acts on [h_{t-1}, x_t]."""
    weight_ih, weight_hh, bias_ih, bias_hh = module_weights
    # PyTorch's gate order: input, forget, candidate, output.
    w_h = {"i": 0.4, "f": 0.3, "c": 0.6, "o": 0.2}
    w_x = {"i": 0.1, "f": 0.2, "c": -0.3, "o": 0.5}
    b = {"i": 0.0, "f": 0.1, "c": 0.0, "o": 0.2}
    order = ["i", "f", "c", "o"]
    with torch.no_grad():
        weight_hh.copy_(torch.tensor([[w_h[g]] for g in order]))
        weight_ih.copy_(torch.tensor([[w_x[g]] for g in order]))
        bias_ih.copy_(torch.tensor([b[g] for g in order]))
        bias_hh.zero_()


def test_exercise_7_1_through_the_cell():
    cell = LSTMCell(1, 1)
    exercise_7_1_weights((cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh))
    x, h0, c0 = torch.tensor([[0.5]]), torch.tensor([[0.3]]), torch.tensor([[0.4]])
    gates = cell.gates(x, (h0, c0))
    assert gates.forget.item() == pytest.approx(0.572, abs=5e-4)
    assert gates.input.item() == pytest.approx(0.542, abs=5e-4)
    assert gates.candidate.item() == pytest.approx(0.030, abs=5e-4)
    assert gates.cell.item() == pytest.approx(0.245, abs=5e-4)
    assert gates.output.item() == pytest.approx(0.625, abs=5e-4)
    assert gates.hidden.item() == pytest.approx(0.150, abs=5e-4)
    h1, c1 = cell(x, (h0, c0))
    assert h1.item() == gates.hidden.item() and c1.item() == gates.cell.item()
    # Exact values from the textbook equations.
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    c_exact = sig(0.29) * 0.4 + sig(0.17) * np.tanh(0.03)
    assert c1.item() == pytest.approx(c_exact, rel=1e-6)
    assert h1.item() == pytest.approx(sig(0.51) * np.tanh(c_exact), rel=1e-6)


def test_exercise_7_1_through_the_sequence_layer():
    lstm = DropoutLSTM(1, 1).eval()
    exercise_7_1_weights(lstm.layer_weights(0))
    state = (torch.tensor([[[0.3]]]), torch.tensor([[[0.4]]]))
    out, (h, c) = lstm(torch.tensor([[[0.5]]]), state)
    assert h.item() == pytest.approx(0.150, abs=5e-4)
    assert c.item() == pytest.approx(0.245, abs=5e-4)
    assert out[0, -1, 0].item() == h.item()


def test_cell_equals_torch_lstm_cell():
    torch.manual_seed(0)
    reference = torch.nn.LSTMCell(3, 5)
    cell = LSTMCell(3, 5)
    cell.load_state_dict(reference.state_dict())
    x, h, c = torch.randn(7, 3), torch.randn(7, 5), torch.randn(7, 5)
    for a, b in zip(cell(x, (h, c)), reference(x, (h, c))):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
    for a, b in zip(cell(x), reference(x)):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mode", ["batch", "sequence"])
def test_dropout_layer_without_dropout_equals_torch_lstm(mode):
    torch.manual_seed(0)
    lstm = DropoutLSTM(3, 4, num_layers=2, recurrent_dropout=0.5, recurrent_dropout_mode=mode)
    x = torch.randn(5, 9, 3)
    expected, (h_ref, c_ref) = lstm.rnn(x)
    # A vanishing rate runs the training path with an all-ones mask (for "sequence",
    # the hand-written loop).
    lstm.recurrent_dropout = 1e-12
    lstm.train()
    out, (h, c) = lstm(x)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h, h_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(c, c_ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["batch", "sequence"])
def test_recurrent_dropout_only_in_training(mode):
    torch.manual_seed(0)
    lstm = DropoutLSTM(2, 6, recurrent_dropout=0.5, recurrent_dropout_mode=mode)
    x = torch.randn(4, 8, 2)
    lstm.eval()
    first, _ = lstm(x)
    torch.testing.assert_close(first, lstm(x)[0], rtol=0, atol=0)
    torch.testing.assert_close(first, lstm.rnn(x)[0], rtol=0, atol=0)
    lstm.train()
    a, _ = lstm(x)
    b, _ = lstm(x)
    assert not torch.equal(a, b) and not torch.equal(a, first)
    # The first step has a zero state, so dropout cannot change it.
    torch.testing.assert_close(a[:, 0], first[:, 0], rtol=1e-6, atol=1e-6)
    a.sum().backward()
    assert all(p.grad is not None for p in lstm.parameters())


def test_batch_mode_is_the_step_loop_with_one_mask_for_all_sequences(monkeypatch):
    # The fused run on masked recurrent weights equals masking h_{t-1} inside each step
    # (the Keras form) when every sequence uses the same mask.
    torch.manual_seed(1)
    lstm = DropoutLSTM(3, 5, num_layers=2, recurrent_dropout=0.4).train()
    masks = iter([torch.tensor([[2.0, 0.0, 2.0, 2.0, 0.0]]), torch.tensor([[0.0, 2.0, 2.0, 0.0, 2.0]])] * 2)
    monkeypatch.setattr(lstm_module, "recurrent_dropout_mask", lambda *args: next(masks))
    x = torch.randn(4, 7, 3)
    fused, (h, c) = lstm(x)
    lstm.recurrent_dropout_mode = "sequence"
    looped, (h_loop, c_loop) = lstm(x)
    torch.testing.assert_close(fused, looped, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(c, c_loop, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("mode", "shared"), [("batch", True), ("sequence", False)])
def test_masks_shared_by_the_batch_or_drawn_per_sequence(mode, shared):
    torch.manual_seed(2)
    lstm = DropoutLSTM(2, 16, recurrent_dropout=0.5, recurrent_dropout_mode=mode).train()
    x = torch.randn(1, 10, 2).expand(6, -1, -1)  # six copies of one sequence
    out, _ = lstm(x)
    same = all(torch.equal(out[0], out[i]) for i in range(1, 6))
    assert same is shared


@pytest.mark.parametrize("mode", ["batch", "sequence"])
def test_masks_keep_the_expected_state(mode):
    torch.manual_seed(3)
    reference = torch.zeros(400, 50)
    masks = torch.stack([recurrent_dropout_mask(reference, 0.2, True, mode) for _ in range(50)])
    assert masks.shape[1] == (1 if mode == "batch" else 400)
    assert set(masks.unique().tolist()) == {0.0, 1.25}
    assert abs(float(masks.mean()) - 1.0) < 0.02
    assert abs(float((masks == 0).float().mean()) - 0.2) < 0.02


def test_bad_recurrent_dropout_mode():
    with pytest.raises(ValueError, match=r"recurrent_dropout_mode must be one of \('batch', 'sequence'\); got 'keras'"):
        DropoutLSTM(2, 3, recurrent_dropout=0.1, recurrent_dropout_mode="keras")


def test_attention_net_decoder_mask_follows_the_mode():
    torch.manual_seed(4)
    x = torch.randn(1, 12, 3).expand(4, -1, -1)
    for mode, shared in (("batch", True), ("sequence", False)):
        net = LSTMAttentionNet(3, units=8, n_outputs=2, recurrent_dropout=0.5,
                               recurrent_dropout_mode=mode).train()
        y = net(x)
        assert all(torch.equal(y[0], y[i]) for i in range(1, 4)) is shared


def attention_parameters(units, dense):
    joined = 2 * units
    return joined * dense + dense + dense + 1 if dense else joined + 1


@pytest.mark.parametrize("dense", [0, 3])
def test_parameter_count_shared_vs_per_output(dense):
    n_series, units, n_outputs, n_targets = 10, 4, 4, 1
    encoder = 4 * units * (n_series + units) + 8 * units
    decoder = 4 * units * (units + units) + 8 * units
    output = units * n_targets + n_targets
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    shared = LSTMAttentionNet(n_series, units, n_outputs, n_targets, attn_dense_nodes=dense)
    separate = LSTMAttentionNet(n_series, units, n_outputs, n_targets, attn_dense_nodes=dense,
                                shared_attention=False)
    per_network = attention_parameters(units, dense)
    assert count(shared) == encoder + decoder + output + per_network
    assert count(separate) == encoder + decoder + output + (n_outputs + 1) * per_network
    assert count(separate) - count(shared) == n_outputs * per_network


def test_attention_is_a_softmax_over_the_window():
    torch.manual_seed(0)
    net = LSTMAttentionNet(3, units=5, n_outputs=4, n_targets=2, attn_dense_nodes=3,
                           shared_attention=False).eval()
    y, alpha = net(torch.randn(6, 20, 3), return_attention=True)
    assert y.shape == (6, 4, 2) and alpha.shape == (6, 4, 20)
    assert torch.all(alpha >= 0)
    torch.testing.assert_close(alpha.sum(-1), torch.ones(6, 4))
    attention = AdditiveAttention(5, 5)
    weights, context = attention(torch.randn(2, 7, 5), torch.randn(2, 5))
    torch.testing.assert_close(weights.sum(1), torch.ones(2))
    assert context.shape == (2, 5)


def test_context_is_the_weighted_encoder_output():
    torch.manual_seed(0)
    attention = AdditiveAttention(3, 2, hidden=4)
    encoded, state = torch.randn(2, 5, 3), torch.randn(2, 2)
    alpha, context = attention(encoded, state)
    torch.testing.assert_close(context, (alpha[..., None] * encoded).sum(1))


def test_seed_initialisation():
    net = LSTMAttentionNet(3, units=4, attn_dense_nodes=2)
    bias = net.encoder.layer_weights(0)[2]
    torch.testing.assert_close(bias[4:8], torch.ones(4))
    torch.testing.assert_close(net.decoder.bias_ih[4:8], torch.ones(4))
    recurrent = net.encoder.layer_weights(0)[1].detach().T  # (H, 4H), orthonormal rows
    torch.testing.assert_close(recurrent @ recurrent.T, torch.eye(4), atol=1e-5, rtol=0)


def test_lstm_net_shapes():
    torch.manual_seed(0)
    net = LSTMNet(n_series=10, units=4, num_layers=2, n_outputs=4, n_targets=3)
    assert net(torch.randn(5, 52, 10)).shape == (5, 4, 3)


@pytest.mark.gpu
@cuda
def test_cuda_forward_matches_cpu():
    torch.manual_seed(0)
    net = LSTMAttentionNet(10, units=8, n_outputs=4, attn_dense_nodes=4).eval()
    x = torch.randn(16, 52, 10)
    y_cpu, a_cpu = net(x, return_attention=True)
    y_gpu, a_gpu = net.cuda()(x.cuda(), return_attention=True)
    torch.testing.assert_close(y_gpu.cpu(), y_cpu, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(a_gpu.cpu(), a_cpu, rtol=1e-4, atol=1e-5)
