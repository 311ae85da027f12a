"""Training the members of a seed ensemble together, as one batched model.

A small network spends most of a training step in per-call overhead (Python, the
optimizer, skorch's data loading), not in arithmetic, so ``K`` separate fits cost about
``K`` times one fit. Here the ``K`` members are trained as one stacked model by
:func:`skyield.models._stacked.train_stacked`: one forward, one backward and one Adam
update per batch for the whole ensemble.

Each member keeps what a separate fit would give it: its initial weights (built under
its own seed exactly as ``fit`` builds them), its own batch order (the same generator
draws as the skorch data loader of a separate fit), its own early stopping on the same
chronological validation tail, with its best weights restored. Adam is elementwise, so
the stacked update is the ``K`` separate updates. What differs: dropout masks are drawn
for all members at once (``vmap(randomness="different")``), so with dropout the
members are other random draws than the separate fits'; without dropout the batched
members reproduce the separate fits up to floating-point rounding of the batched
matrix products.

skorch trains one module per net and has no stacked-ensemble mode, hence this loop; the
members it returns carry ordinary fitted skorch nets.
"""

import numpy as np
import torch

from skyield.models._stacked import train_stacked
from skyield.utils import resolve_device, torch_seed
from skyield.utils._torch import TORCH_RNG_LOCK

__all__ = ["fit_batched", "supports_batched_fit"]

_HOOKS = ("_training_setup", "_new_net", "_initialize_net", "_finish_fit")


def supports_batched_fit(estimator):
    """Whether ``estimator`` exposes the training hooks that batched fitting uses."""
    return all(callable(getattr(estimator, hook, None)) for hook in _HOOKS)


def _check_members(members):
    first = members[0]
    if not supports_batched_fit(first):
        raise TypeError(
            f"batched=True needs an estimator that exposes skyield's batched-training "
            f"hooks (YieldCurveAttentionRegressor, TransferredCurveRegressor); "
            f"{type(first).__name__} does not: use batched=False"
        )
    reference = {k: v for k, v in first.get_params(deep=False).items() if k != "random_state"}
    for member in members[1:]:
        params = {k: v for k, v in member.get_params(deep=False).items()
                  if k != "random_state"}
        if type(member) is not type(first) or params.keys() != reference.keys() or any(
                params[k] is not reference[k] and repr(params[k]) != repr(reference[k])
                for k in params):
            raise ValueError("batched members must differ only in random_state")


def _split_indices(net, inputs, targets):
    n_rows = len(targets)
    if net.train_split is None:
        return np.arange(n_rows), None
    train, valid = net.train_split(net.get_dataset(inputs, targets))
    return np.asarray(train.indices), np.asarray(valid.indices)


def fit_batched(members, X, y, families=None, random_state=None):
    """Fit estimators that differ only in ``random_state`` as one batched model.

    Parameters
    ----------
    members : list of estimator
        Unfitted estimators of one class exposing the batched-training hooks, with
        identical parameters except ``random_state``.
    X, y, families
        As for the members' ``fit``.
    random_state : int, RandomState instance or None, default=None
        Seeds the dropout masks, which are drawn for all members at once.

    Returns
    -------
    members : list of estimator
        The same objects, fitted: each holds an ordinary fitted skorch net with its own
        weights.
    """
    _check_members(members)
    with TORCH_RNG_LOCK:
        return _fit_batched(members, X, y, families, random_state)


def _fit_batched(members, X, y, families, random_state):
    data = [member._training_setup(X, y, families) for member in members]
    inputs, targets = data[0]
    first = members[0]
    device = resolve_device(first.device)
    nets, generators = [], []
    for member in members:
        with torch_seed(member.random_state, device) as generator:
            nets.append(member._initialize_net(member._new_net(device, generator)))
        generators.append(generator)
    train_idx, valid_idx = _split_indices(nets[0], inputs, targets)
    tensors = {key: torch.as_tensor(value, device=device) for key, value in inputs.items()}
    target = torch.as_tensor(targets, device=device)

    def rows(index):
        index = torch.as_tensor(index, device=device)
        return {key: value[index] for key, value in tensors.items()}, target[index]

    summary = train_stacked(nets, rows(train_idx),
                            None if valid_idx is None else rows(valid_idx),
                            generators=generators, random_state=random_state)
    for member, member_net, result in zip(members, nets, summary):
        member._finish_fit(member_net, result["n_epochs"])
    return members
