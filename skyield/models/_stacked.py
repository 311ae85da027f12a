"""Training several copies of one network together, as one stacked model.

A small network spends most of a training step in per-call overhead (Python, the
optimizer, skorch's data loading), not in arithmetic, so ``K`` separate fits cost about
``K`` times one fit. Here the ``K`` copies' parameters are stacked along a leading axis and
one step evaluates all of them with ``torch.func.vmap`` over
``torch.func.functional_call``: one forward, one backward and one optimizer update per
batch for all copies.

Each copy (a *member*) keeps what a separate skorch fit would give it: its initial
weights (its net is built and initialised under its own seed, as ``fit`` does), its own
batch order (the draws of the skorch data loader of a separate fit, from the member's own
generator), its own learning-rate schedule step, its own early stopping with its best
weights restored. Adam and AdamW are elementwise, so the stacked update is the ``K``
separate updates. What differs: dropout masks are drawn for all members at once
(``vmap(randomness="different")``) from the generator seeded by ``random_state``, so with
dropout the members are other random draws than the separate fits'; without dropout the
stacked members reproduce the separate fits up to floating-point rounding of the batched
matrix products. A member that stops early leaves the stack (its parameters and optimizer
state are dropped from it), so later epochs cost only what the members still training
need.

skorch trains one module per net and has no stacked mode, hence this loop; the members
come back as ordinary fitted skorch nets (their histories hold the epochs run). It serves
the seed ensembles of :mod:`skyield.ensemble` and the training runs of
:class:`~skyield.models.FactorTransformer`.
"""

import copy
import time

import numpy as np
import torch
from skorch.callbacks import EarlyStopping, PrintLog
from torch.func import functional_call, vmap

from skyield.models._base import WarmStartEarlyStopping
from skyield.utils import torch_seed

__all__ = ["MemberStopping", "early_stopping_of", "loader_order", "stack_modules",
           "train_stacked"]

_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW)


def early_stopping_of(net):
    """The :class:`skorch.callbacks.EarlyStopping` callback of an initialised net, or None."""
    for _, callback in net.callbacks_:
        if isinstance(callback, EarlyStopping):
            return callback
    return None


def stack_modules(modules, kind):
    """Parameters (``kind="parameters"``) or buffers of modules, stacked on a new first axis."""
    named = dict(getattr(modules[0], f"named_{kind}")())
    stacked = {}
    for name, value in named.items():
        tensor = torch.stack([dict(getattr(m, f"named_{kind}")())[name].detach()
                              for m in modules])
        if kind == "parameters":
            tensor.requires_grad_(value.requires_grad)
        stacked[name] = tensor
    return stacked


def loader_order(generator, n_rows):
    """The row order of one epoch of a shuffling skorch/torch data loader.

    A separate fit's ``DataLoader`` (``RandomSampler``) draws, each epoch, a worker base
    seed, the epoch's permutation and, once the sampler is exhausted, an empty remainder
    permutation; the same draws from the same generator give the same order.
    """
    torch.empty((), dtype=torch.int64).random_(generator=generator)
    order = torch.randperm(n_rows, generator=generator)
    torch.randperm(n_rows, generator=generator)
    return order


class MemberStopping:
    """skorch's EarlyStopping (relative or absolute threshold) for each member."""

    def __init__(self, callback, n_members):
        self.patience = callback.patience
        self.threshold = callback.threshold
        self.relative = callback.threshold_mode == "rel"
        self.load_best = callback.load_best
        self.misses = np.zeros(n_members, dtype=int)
        self.threshold_value = np.full(n_members, np.inf)
        self.best = [None] * n_members
        self.best_loss = np.full(n_members, np.inf)
        self.stopped = np.zeros(n_members, dtype=bool)
        self.epochs = np.zeros(n_members, dtype=int)

    def update(self, epoch, members, losses, params):
        """Record one epoch's validation ``losses`` of ``members`` (ids) whose parameters
        sit at rows ``0 .. len(members) - 1`` of the stacked ``params``."""
        for row, (k, loss) in enumerate(zip(members, losses)):
            if self.stopped[k]:
                continue
            self.epochs[k] = epoch
            if loss < self.threshold_value[k]:
                self.misses[k] = 0
                change = self.threshold * loss if self.relative else self.threshold
                self.threshold_value[k] = loss - change
                self.best_loss[k] = loss
                if self.load_best:
                    self.best[k] = {name: p[row].detach().clone() for name, p in params.items()}
            else:
                self.misses[k] += 1
            if self.misses[k] == self.patience:
                self.stopped[k] = True


def _check_nets(nets):
    first = nets[0]
    if not isinstance(first.optimizer_, _OPTIMIZERS):
        raise TypeError("stacked training implements Adam and AdamW only, got "
                        f"{type(first.optimizer_).__name__}")
    for net in nets[1:]:
        if type(net.module_) is not type(first.module_) or \
                type(net.optimizer_) is not type(first.optimizer_):
            raise ValueError("stacked members must share the module and optimizer classes")


def _new_optimizer(kind, params, group):
    return kind(params, lr=group["lr"], betas=group["betas"], eps=group["eps"],
                weight_decay=group["weight_decay"], amsgrad=group["amsgrad"], foreach=True)


def _keep_rows(params, optimizer, rows, group):
    """Stack and optimizer restricted to the given rows (members still training)."""
    index = torch.as_tensor(rows, device=next(iter(params.values())).device)
    kept = {}
    for name, p in params.items():
        kept[name] = p.detach()[index].clone().requires_grad_(p.requires_grad)
    new = _new_optimizer(type(optimizer), [p for p in kept.values() if p.requires_grad], group)
    for (name, old), p in zip(((n, p) for n, p in params.items() if p.requires_grad),
                              (p for p in kept.values() if p.requires_grad)):
        state = optimizer.state.get(old)
        if state:
            new.state[p] = {key: value[index].clone() if torch.is_tensor(value) and
                            value.ndim > 0 else copy.deepcopy(value)
                            for key, value in state.items()}
    return kept, new


def _batched_loss(base, criterion):
    def member_loss(member_params, member_buffers, batch, target_batch):
        output = functional_call(base, (member_params, member_buffers), kwargs=batch)
        return criterion(output, target_batch)

    return vmap(member_loss, randomness="different")


def _valid_losses(base, criterion, loss_fn, params, buffers, valid, batch_size):
    """Per-member validation loss, averaged over batches weighted by their size (skorch)."""
    base.eval()
    criterion.eval()
    inputs, target = valid
    n_valid = target.shape[0]
    n_members = next(iter(params.values())).shape[0]
    totals = torch.zeros(n_members, dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, n_valid, batch_size):
            stop = min(start + batch_size, n_valid)
            batch = {key: value[start:stop].expand(n_members, *value[start:stop].shape)
                     for key, value in inputs.items()}
            part = target[start:stop].expand(n_members, *target[start:stop].shape)
            totals += loss_fn(params, buffers, batch, part).double().cpu() * (stop - start)
    return (totals / n_valid).numpy()


def train_stacked(nets, train, valid=None, *, generators, schedule=None, random_state=None,
                  epoch_callback=None):
    """Train initialised skorch nets that differ only in their weights as one stacked model.

    Parameters
    ----------
    nets : list of skorch.NeuralNet
        Initialised nets (``net.initialize()`` under each member's seed) with the same
        module class and architecture, an Adam or AdamW optimizer, ``max_epochs`` and
        ``batch_size``; an :class:`~skorch.callbacks.EarlyStopping` callback in the first
        net's callbacks makes every member stop on its own validation loss (needs
        ``valid``).
    train : tuple of (dict of Tensor, Tensor)
        Training inputs (the keyword arguments of the module's ``forward``, first axis the
        examples) and targets, on the nets' device.
    valid : tuple of (dict of Tensor, Tensor), default=None
        Validation inputs and targets; None trains for ``max_epochs`` without validation.
    generators : list of torch.Generator
        One per member: the source of its batch order (as its separate fit's loader).
    schedule : callable, default=None
        Learning-rate multiplier of the training step (counted over batches from 0), as a
        ``LambdaLR`` stepped every batch; None keeps the optimizer's learning rate.
    random_state : int, RandomState instance or None, default=None
        Seeds the dropout masks, drawn for all members at once.
    epoch_callback : callable, default=None
        Called after every epoch as ``epoch_callback(epoch, members, forward)``:
        ``members`` holds the ids of the members trained in that epoch and
        ``forward(inputs)`` evaluates them (evaluation mode, no gradient) on a dict of
        input tensors, returning the module's output stacked over those members.

    Returns
    -------
    summary : list of dict
        Per member: ``n_epochs`` (epochs run), ``best_valid_loss`` (NaN without
        validation). Each net's module holds the member's final (or best, with
        ``load_best``) weights and its history the epochs run, with ``train_loss`` and
        ``valid_loss``.
    """
    _check_nets(nets)
    first = nets[0]
    device = next(first.module_.parameters()).device
    params = stack_modules([n.module_ for n in nets], "parameters")
    buffers = stack_modules([n.module_ for n in nets], "buffers")
    base = copy.deepcopy(first.module_).to("meta")
    criterion = first.criterion_
    group = dict(first.optimizer_.param_groups[0])
    base_lr = group["lr"]
    kind = type(first.optimizer_)
    optimizer = _new_optimizer(kind, [p for p in params.values() if p.requires_grad], group)
    loss_fn = _batched_loss(base, criterion)
    callback = early_stopping_of(first)
    n_members = len(nets)
    stopping = MemberStopping(callback, n_members) \
        if valid is not None and callback is not None else None
    inputs, target = train
    n_train = target.shape[0]
    batch_size = first.batch_size
    if stopping is not None and isinstance(callback, WarmStartEarlyStopping):
        # Warm-started members: their starting weights are epoch 0, as in a fit alone.
        stopping.update(0, list(range(n_members)),
                        _valid_losses(base, criterion, loss_fn, params, buffers, valid,
                                      batch_size), params)
    active = list(range(n_members))
    epochs_run = np.zeros(n_members, dtype=int)
    for net in nets:
        net.history.clear()
    step = 0

    def forward(batch):
        base.eval()
        n_active = next(iter(params.values())).shape[0]
        expanded = {key: value.to(device).expand(n_active, *value.shape)
                    for key, value in batch.items()}
        with torch.no_grad():
            return vmap(lambda p, b, x: functional_call(base, (p, b), kwargs=x),
                        randomness="same")(params, buffers, expanded)

    with torch_seed(random_state, device):
        for epoch in range(1, first.max_epochs + 1):
            started = time.perf_counter()
            orders = torch.stack([loader_order(generators[k], n_train) for k in active])
            base.train()
            criterion.train()
            train_loss = torch.zeros(len(active), dtype=torch.float64)
            for start in range(0, n_train, batch_size):
                rows = orders[:, start:start + batch_size].to(device)
                batch = {key: value[rows] for key, value in inputs.items()}
                if schedule is not None:
                    for param_group in optimizer.param_groups:
                        param_group["lr"] = base_lr * schedule(step)
                optimizer.zero_grad()
                losses = loss_fn(params, buffers, batch, target[rows])
                losses.sum().backward()
                optimizer.step()
                train_loss += losses.detach().double().cpu() * rows.shape[1]
                step += 1
            epochs_run[active] = epoch
            valid_loss = None
            if valid is not None:
                valid_loss = _valid_losses(base, criterion, loss_fn, params, buffers, valid,
                                           batch_size)
            for row, k in enumerate(active):
                history = nets[k].history
                history.new_epoch()
                history.record("epoch", epoch)
                history.record("train_loss", float(train_loss[row] / n_train))
                if valid_loss is not None:
                    history.record("valid_loss", float(valid_loss[row]))
                history.record("dur", time.perf_counter() - started)
                _print_epoch(nets[k])
            if epoch_callback is not None:
                epoch_callback(epoch, list(active), forward)
            if stopping is not None:
                stopping.update(epoch, active, valid_loss, params)
                still = [row for row, k in enumerate(active) if not stopping.stopped[k]]
                if not still:
                    break
                if len(still) < len(active):
                    for row, k in enumerate(active):
                        if stopping.stopped[k]:
                            _store(nets[k], params, buffers, row)
                    params, optimizer = _keep_rows(params, optimizer, still, group)
                    buffers = {name: b[torch.as_tensor(still)] for name, b in buffers.items()}
                    active = [active[row] for row in still]
    for row, k in enumerate(active):
        _store(nets[k], params, buffers, row)
    summary = []
    for k, net in enumerate(nets):
        if stopping is not None and stopping.best[k] is not None:
            state = dict(stopping.best[k])
            state.update({name: b for name, b in net.module_.state_dict().items()
                          if name not in state})
            net.module_.load_state_dict(state)
        n_epochs = int(stopping.epochs[k]) if stopping is not None else int(epochs_run[k])
        summary.append({"n_epochs": n_epochs,
                        "best_valid_loss": float(stopping.best_loss[k])
                        if stopping is not None else float("nan")})
    return summary


def _print_epoch(net):
    """skorch's epoch log (``PrintLog``, present when the net is verbose) for one member."""
    for _, callback in net.callbacks_:
        if isinstance(callback, PrintLog):
            callback.on_epoch_end(net)


def _store(net, params, buffers, row):
    """Load row ``row`` of the stacked parameters and buffers into a member's module."""
    state = {name: p[row].detach().clone() for name, p in params.items()}
    state.update({name: b[row].clone() for name, b in buffers.items()})
    net.module_.load_state_dict(state)
