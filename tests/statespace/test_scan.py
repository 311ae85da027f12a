"""Affine prefix scans: agreement with the date-by-date recursion, reverse passes."""

import pytest
import torch

from skyield.statespace import _scan
from skyield.statespace._scan import affine_scan, affine_scan_constant


def loop(Phi, b):
    x, out = torch.zeros_like(b[:, 0]), []
    for j in range(b.shape[1]):
        matrix = Phi[:, j] if Phi.ndim == 4 else Phi
        x = (matrix @ x[..., None])[..., 0] + b[:, j]
        out.append(x)
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 100, 700])
def test_scans_equal_the_recursion(n):
    generator = torch.Generator().manual_seed(n)
    Phi = 0.5 * torch.rand(2, n, 3, 3, dtype=torch.float64, generator=generator)
    b = torch.randn(2, n, 3, dtype=torch.float64, generator=generator)
    torch.testing.assert_close(affine_scan(Phi, b), loop(Phi, b), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(affine_scan_constant(Phi[:, 0], b), loop(Phi[:, 0], b), rtol=1e-12, atol=1e-12)
    # Each way of computing them, whichever the device and size would choose.
    for way in (_scan._scan, _scan._short_recursion, _scan._banded_recursion):
        torch.testing.assert_close(way(Phi, b), loop(Phi, b), rtol=1e-12, atol=1e-12)
    for way in (_scan._scan_constant, _scan._banded_recursion):
        torch.testing.assert_close(way(Phi[:, 0], b), loop(Phi[:, 0], b), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("direct_work", [0, 10**9])
def test_constant_scan_blocked_and_doubling_directly(monkeypatch, direct_work):
    # Both ways of the constant-matrix scan, whichever the size would choose.
    monkeypatch.setattr(_scan, "_DIRECT_WORK", direct_work)
    generator = torch.Generator().manual_seed(3)
    Phi = 0.5 * torch.rand(2, 3, 3, dtype=torch.float64, generator=generator)
    b = torch.randn(2, 300, 3, dtype=torch.float64, generator=generator)
    torch.testing.assert_close(affine_scan_constant(Phi, b), loop(Phi, b), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [1, 4, 7])
def test_hand_written_reverse_passes(n):
    generator = torch.Generator().manual_seed(10 + n)
    Phi = (0.5 * torch.rand(2, n, 3, 3, dtype=torch.float64, generator=generator)).requires_grad_()
    b = torch.randn(2, n, 3, dtype=torch.float64, generator=generator, requires_grad=True)
    constant = (0.5 * torch.rand(2, 3, 3, dtype=torch.float64, generator=generator)).requires_grad_()
    assert torch.autograd.gradcheck(affine_scan, (Phi, b))
    assert torch.autograd.gradgradcheck(affine_scan, (Phi, b))
    assert torch.autograd.gradcheck(affine_scan_constant, (constant, b))
    assert torch.autograd.gradgradcheck(affine_scan_constant, (constant, b))
