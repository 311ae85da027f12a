"""Training the members of a seed ensemble together, as one batched model.

A small network spends most of a training step in per-call overhead (Python, the
optimizer, skorch's data loading), not in arithmetic, so ``K`` separate fits cost about
``K`` times one fit. Here the ``K`` members' parameters are stacked along a leading
axis and one step evaluates all of them with ``torch.func.vmap`` over
``torch.func.functional_call``: one forward, one backward and one Adam update per batch
for the whole ensemble.

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

import copy

import numpy as np
import torch
from skorch.callbacks import EarlyStopping
from torch.func import functional_call, vmap

from skyield.models._base import WarmStartEarlyStopping
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


def _early_stopping(net):
    for _, callback in net.callbacks_:
        if isinstance(callback, EarlyStopping):
            return callback
    return None


def _split_indices(net, inputs, targets):
    n_rows = len(targets)
    if net.train_split is None:
        return np.arange(n_rows), None
    train, valid = net.train_split(net.get_dataset(inputs, targets))
    return np.asarray(train.indices), np.asarray(valid.indices)


def _stack(modules, kind):
    named = dict(getattr(modules[0], f"named_{kind}")())
    stacked = {}
    for name, value in named.items():
        tensor = torch.stack([dict(getattr(m, f"named_{kind}")())[name].detach()
                              for m in modules])
        if kind == "parameters":
            tensor.requires_grad_(value.requires_grad)
        stacked[name] = tensor
    return stacked


class _MemberStopping:
    """skorch's EarlyStopping (relative or absolute threshold) for each member."""

    def __init__(self, callback, n_members):
        self.patience = callback.patience
        self.threshold = callback.threshold
        self.relative = callback.threshold_mode == "rel"
        self.load_best = callback.load_best
        self.misses = np.zeros(n_members, dtype=int)
        self.threshold_value = np.full(n_members, np.inf)
        self.best = [None] * n_members
        self.stopped = np.zeros(n_members, dtype=bool)
        self.epochs = np.zeros(n_members, dtype=int)

    def update(self, epoch, losses, params):
        for k, loss in enumerate(losses):
            if self.stopped[k]:
                continue
            self.epochs[k] = epoch
            if loss < self.threshold_value[k]:
                self.misses[k] = 0
                change = self.threshold * loss if self.relative else self.threshold
                self.threshold_value[k] = loss - change
                if self.load_best:
                    self.best[k] = {name: p[k].detach().clone() for name, p in params.items()}
            else:
                self.misses[k] += 1
            if self.misses[k] == self.patience:
                self.stopped[k] = True


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
    net = nets[0]
    if not isinstance(net.optimizer_, torch.optim.Adam):
        raise TypeError("batched training implements Adam only")

    train_idx, valid_idx = _split_indices(net, inputs, targets)
    tensors = {key: torch.as_tensor(value, device=device) for key, value in inputs.items()}
    target = torch.as_tensor(targets, device=device)
    modules = [n.module_ for n in nets]
    params = _stack(modules, "parameters")
    buffers = _stack(modules, "buffers")
    base = copy.deepcopy(modules[0]).to("meta")
    criterion = net.criterion_
    group = net.optimizer_.param_groups[0]
    optimizer = torch.optim.Adam(
        [p for p in params.values() if p.requires_grad], lr=group["lr"],
        betas=group["betas"], eps=group["eps"], weight_decay=group["weight_decay"],
        amsgrad=group["amsgrad"], foreach=True,
    )

    def member_loss(member_params, member_buffers, batch, target_batch):
        output = functional_call(base, (member_params, member_buffers), kwargs=batch)
        return criterion(output, target_batch)

    batched_loss = vmap(member_loss, randomness="different")
    batch_size = net.batch_size
    stopping = None
    callback = _early_stopping(net)
    if valid_idx is not None and callback is not None:
        stopping = _MemberStopping(callback, len(members))
        if isinstance(callback, WarmStartEarlyStopping):
            # Warm-started members: their starting weights are epoch 0, as in a fit alone.
            stopping.update(0, _valid_losses(base, batched_loss, params, buffers, tensors,
                                             target, valid_idx, batch_size, device), params)
    n_train = len(train_idx)
    train_rows = torch.as_tensor(train_idx, device=device)
    epochs_run = 0
    with torch_seed(random_state, device):
        for epoch in range(1, net.max_epochs + 1):
            if stopping is not None and stopping.stopped.all():
                break
            orders = []
            for generator in generators:
                # The draws of a separate fit's DataLoader (torch's RandomSampler): a
                # worker base seed, the epoch's permutation, and the empty remainder
                # permutation drawn when the sampler is exhausted.
                torch.empty((), dtype=torch.int64).random_(generator=generator)
                orders.append(torch.randperm(n_train, generator=generator))
                torch.randperm(n_train, generator=generator)
            order = train_rows[torch.stack(orders).to(device)]
            base.train()
            for start in range(0, n_train, batch_size):
                rows = order[:, start:start + batch_size]
                batch = {key: value[rows] for key, value in tensors.items()}
                optimizer.zero_grad()
                batched_loss(params, buffers, batch, target[rows]).sum().backward()
                optimizer.step()
            epochs_run = epoch
            if stopping is not None:
                stopping.update(epoch, _valid_losses(base, batched_loss, params, buffers,
                                                     tensors, target, valid_idx, batch_size,
                                                     device), params)
    for k, (member, member_net) in enumerate(zip(members, nets)):
        state = {name: p[k].detach().clone() for name, p in params.items()}
        n_epochs = epochs_run
        if stopping is not None:
            n_epochs = int(stopping.epochs[k])
            if stopping.best[k] is not None:
                state = stopping.best[k]
        state.update({name: b[k].clone() for name, b in buffers.items()})
        member_net.module_.load_state_dict(state)
        member._finish_fit(member_net, n_epochs)
    return members


def _valid_losses(base, batched_loss, params, buffers, tensors, target, valid_idx,
                  batch_size, device):
    """Per-member validation loss, averaged over batches weighted by their size (skorch)."""
    base.eval()
    rows = torch.as_tensor(valid_idx, device=device)
    totals = None
    with torch.no_grad():
        for start in range(0, len(valid_idx), batch_size):
            chunk = rows[start:start + batch_size]
            n_members = next(iter(params.values())).shape[0]
            index = chunk.expand(n_members, -1)
            batch = {key: value[index] for key, value in tensors.items()}
            losses = batched_loss(params, buffers, batch, target[index]).double().cpu()
            losses = losses.numpy() * len(chunk)
            totals = losses if totals is None else totals + losses
    return totals / len(valid_idx)

