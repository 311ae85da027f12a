"""Conversion and shape checks shared by the state space functions.

Every public function of :mod:`skyield.statespace` accepts numpy arrays or torch tensors.
They are converted here to float64 tensors on one device, and every shape is checked
against the model dimensions so that a wrong argument is reported by name together with
the shape that was expected.
"""

import numbers

import numpy as np
import torch

DTYPE = torch.float64

# Core (non-batch) shape of every model argument, written with the symbols used in the
# error messages: M observed series, k states, n dates.
CORE_SHAPES = {
    "y": ("n", "M"),
    "Z": ("M", "k"),
    "T": ("k", "k"),
    "H": ("M", "M"),
    "Q": ("k", "k"),
    "c": ("k",),
    "d": ("M",),
    "a0": ("k",),
    "P0": ("k", "k"),
}


def resolve_device(**arrays):
    """Return the device shared by the torch tensors among ``arrays`` (CPU if none)."""
    devices = {
        name: value.device
        for name, value in arrays.items()
        if isinstance(value, torch.Tensor)
    }
    unique = set(devices.values())
    if len(unique) > 1:
        listed = ", ".join(f"{name} on {dev}" for name, dev in devices.items())
        raise ValueError(f"All tensors must be on one device; got {listed}.")
    return unique.pop() if unique else torch.device("cpu")


def as_tensor(value, name, device):
    """Convert ``value`` to a float64 tensor on ``device``.

    Torch tensors keep their autograd history (``.to`` is differentiable).
    """
    if isinstance(value, torch.Tensor):
        if value.is_complex() or not (value.is_floating_point() or _is_integer(value)):
            raise TypeError(f"{name} must hold real numbers; got a tensor of dtype {value.dtype}.")
        return value.to(device=device, dtype=DTYPE)
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        if isinstance(value, complex):
            raise TypeError(f"{name} must hold real numbers; got the complex number {value!r}.")
        return torch.tensor(float(value), dtype=DTYPE, device=device)
    try:
        array = np.asarray(value)
    except Exception as exc:  # pragma: no cover - numpy raises many kinds of errors
        raise TypeError(
            f"{name} must be an array-like of real numbers; got {type(value).__name__}."
        ) from exc
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers; got {type(value).__name__} with numpy dtype "
            f"{array.dtype}."
        )
    # A read-only array (e.g. a pandas view) is copied: torch cannot share it safely.
    return torch.as_tensor(array.astype(np.float64, copy=not array.flags.writeable),
                           device=device)


def _is_integer(tensor):
    return not tensor.is_floating_point() and tensor.dtype != torch.bool


def check_core_shape(tensor, name, dims, source="Z"):
    """Check the trailing dimensions of ``tensor`` against ``dims`` = {"M": .., "k": ..}.

    ``source`` names the argument the dimensions were read from, for the error message.
    Returns the batch shape (the leading dimensions).
    """
    symbols = CORE_SHAPES[name]
    expected = tuple(dims.get(s, s) for s in symbols)
    core = tuple(tensor.shape[tensor.ndim - len(symbols):]) if tensor.ndim >= len(symbols) else None
    ok = core is not None and all(
        isinstance(e, str) or c == e for c, e in zip(core, expected, strict=True)
    )
    if not ok:
        spelled = ", ".join(str(e) for e in expected)
        origin = _origin_note(symbols, dims, source)
        raise ValueError(
            f"{name} must have shape (..., {spelled}){origin}; got shape {tuple(tensor.shape)}."
        )
    return tensor.shape[: tensor.ndim - len(symbols)]


def _origin_note(symbols, dims, source):
    notes = []
    if "M" in symbols and "M" in dims:
        notes.append(f"M={dims['M']} observed series")
    if "k" in symbols and "k" in dims:
        notes.append(f"k={dims['k']} states")
    if not notes:
        return ""
    return " with " + " and ".join(notes) + f" taken from {source}"


def check_finite(tensor, name):
    """Raise if ``tensor`` holds NaN or infinite values."""
    if not bool(torch.isfinite(tensor).all()):
        index = tuple(int(i) for i in (~torch.isfinite(tensor)).nonzero()[0])
        raise ValueError(f"{name} contains NaN or infinite values (first at index {index}).")


def check_symmetric(tensor, name, rtol=1e-8):
    """Raise if the matrices in ``tensor`` (shape (..., p, p)) are not symmetric."""
    gap = (tensor - tensor.mT).abs().detach()
    scale = tensor.abs().detach().amax(dim=(-2, -1), keepdim=True).clamp_min(1.0)
    bad = (gap > rtol * scale).any(dim=(-2, -1))
    if bool(bad.any()):
        where = _batch_index_note(bad)
        raise ValueError(f"{name} must be symmetric{where}.")


def check_psd(tensor, name, rtol=1e-10):
    """Raise if the symmetric matrices in ``tensor`` have a clearly negative eigenvalue."""
    eig = torch.linalg.eigvalsh(tensor.detach())
    scale = eig.abs().amax(dim=-1).clamp_min(torch.finfo(DTYPE).tiny)
    bad = eig[..., 0] < -rtol * scale
    if bool(bad.any()):
        where = _batch_index_note(bad)
        raise ValueError(f"{name} must be positive semi-definite{where}.")


def _batch_index_note(bad):
    if bad.ndim == 0:
        return ""
    index = tuple(int(i) for i in bad.nonzero()[0])
    return f" (first failure at batch index {index})"


def batch_index_note(bad):
    """Describe where a boolean batch mask first is True, for error messages."""
    return _batch_index_note(bad)


def broadcast_batch_shapes(shapes):
    """Broadcast the batch shapes in ``shapes`` (a dict name -> torch.Size)."""
    try:
        return torch.broadcast_shapes(*shapes.values())
    except RuntimeError:
        listed = ", ".join(f"{name} {tuple(shape)}" for name, shape in shapes.items())
        raise ValueError(
            "The batch dimensions (all but the trailing model dimensions) do not broadcast "
            f"together: {listed}."
        ) from None
