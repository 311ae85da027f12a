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
    if array.dtype.kind not in "iuf":  # booleans are no numbers here either
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


def host(tensor):
    """``tensor`` detached, as a numpy array on the host (no copy for a CPU tensor).

    The checks below, and the filter's work on a few k x k matrices at a time, read
    small arrays there: a numpy operation on a few dozen numbers costs about a
    microsecond, a torch operation several.
    """
    return (tensor.detach() if tensor.requires_grad else tensor).cpu().numpy()


_VALUE_TESTS = {"nan": (np.isnan, torch.isnan), "inf": (np.isinf, torch.isinf)}


def has_values(tensor, kind):
    """Whether ``tensor`` holds NaN (``kind="nan"``) or infinite (``"inf"``) values.

    A CPU tensor is read in place by numpy, at a fraction of the cost of torch's test and
    reduction.
    """
    on_host, on_device = _VALUE_TESTS[kind]
    if tensor.device.type == "cpu":
        return bool(on_host(host(tensor)).any())
    return bool(on_device(tensor).any())


def check_finite(tensor, name):
    """Raise if ``tensor`` holds NaN or infinite values."""
    values = host(tensor)
    finite = np.isfinite(values)
    if not finite.all():
        index = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(f"{name} contains NaN or infinite values (first at index {index}).")


def check_symmetric(tensor, name, rtol=1e-8):
    """Raise if the matrices in ``tensor`` (shape (..., p, p)) are not symmetric."""
    values = host(tensor)
    gap = np.abs(values - values.swapaxes(-1, -2))
    scale = np.maximum(np.abs(values).max(axis=(-2, -1), keepdims=True), 1.0)
    bad = (gap > rtol * scale).any(axis=(-2, -1))
    if bad.any():
        raise ValueError(f"{name} must be symmetric{_batch_index_note(bad)}.")


def is_positive_definite(tensor):
    """Whether every symmetric matrix in ``tensor`` has a Cholesky factor (a test several
    times cheaper than their eigenvalues)."""
    return not bool(torch.linalg.cholesky_ex(tensor.detach()).info.any())


def check_psd(tensor, name, rtol=1e-10):
    """Raise if the symmetric matrices in ``tensor`` have a clearly negative eigenvalue."""
    if is_positive_definite(tensor):
        return
    eig = host(torch.linalg.eigvalsh(tensor.detach()))
    scale = np.maximum(np.abs(eig).max(axis=-1), np.finfo(np.float64).tiny)
    bad = eig[..., 0] < -rtol * scale
    if bad.any():
        raise ValueError(f"{name} must be positive semi-definite{_batch_index_note(bad)}.")


def _batch_index_note(bad):
    """Where the boolean batch mask ``bad`` (tensor or array) is first True."""
    bad = host(bad) if isinstance(bad, torch.Tensor) else np.asarray(bad)
    if bad.ndim == 0:
        return ""
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    return f" (first failure at batch index {index})"


def batch_index_note(bad):
    """Describe where a boolean batch mask first is True, for error messages."""
    return _batch_index_note(bad)


def broadcast_shapes(*shapes):
    """``torch.broadcast_shapes`` at numpy's cost (a tenth of torch's on every call)."""
    return torch.Size(np.broadcast_shapes(*shapes))


def broadcast_batch_shapes(shapes):
    """Broadcast the batch shapes in ``shapes`` (a dict name -> torch.Size)."""
    try:
        return broadcast_shapes(*shapes.values())
    except ValueError:
        listed = ", ".join(f"{name} {tuple(shape)}" for name, shape in shapes.items())
        raise ValueError(
            "The batch dimensions (all but the trailing model dimensions) do not broadcast "
            f"together: {listed}."
        ) from None
