"""Device resolution and seeding for the torch-based estimators (one place for both)."""

import contextlib
import threading

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["resolve_device", "torch_seed", "seed_from_random_state"]


def resolve_device(device):
    """Turn ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"auto"`` or a ``torch.device`` into a device.

    ``"auto"`` picks CUDA when it is available, else the CPU. Asking for CUDA on a machine
    without it is an error rather than a silent fall-back to the CPU.
    """
    import torch

    if isinstance(device, torch.device):
        resolved = device
    elif device == "auto":
        resolved = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    elif isinstance(device, str):
        try:
            resolved = torch.device(device)
        except RuntimeError:
            raise ValueError(
                f"device must be 'cpu', 'cuda', 'cuda:<n>', 'auto' or a torch.device, "
                f"got {device!r}"
            ) from None
    else:
        raise ValueError(
            f"device must be 'cpu', 'cuda', 'cuda:<n>', 'auto' or a torch.device, got {device!r}"
        )
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available")
    return resolved


# torch's default generators are process-wide, so threads share them: seeded blocks running
# in threads (joblib's threading backend, Dask thread workers) take turns, and each stays
# reproducible. Process-based backends (loky, Dask processes, Ray) still run in parallel.
TORCH_RNG_LOCK = threading.RLock()


def seed_from_random_state(random_state):
    """Draw a 31-bit integer seed from ``random_state`` (None, int or RandomState)."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


@contextlib.contextmanager
def torch_seed(random_state, device=None):
    """Seed torch for the duration of a block, leaving the caller's generators untouched.

    Blocks in different threads of one process run one at a time (the default generators
    are shared by all threads); a block may nest inside another in the same thread.

    Parameters
    ----------
    random_state : None, int or numpy.random.RandomState
        Source of the seed. An int gives the same seed every time.
    device : torch.device, default=None
        Device whose generator (CUDA) is also forked and seeded.

    Yields
    ------
    generator : torch.Generator
        A CPU generator seeded from the same seed, for data shuffling.
    """
    import torch

    seed = seed_from_random_state(random_state)
    cuda_devices = []
    if device is not None and torch.device(device).type == "cuda":
        index = torch.device(device).index
        cuda_devices = [index if index is not None else torch.cuda.current_device()]
    with TORCH_RNG_LOCK, torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(seed)
        generator = torch.Generator()
        generator.manual_seed(seed)
        yield generator
