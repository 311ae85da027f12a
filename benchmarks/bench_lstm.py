"""Training cost of LSTMAttentionRegressor and LSTMRegressor on weekly Treasury windows.

Windows of 52 weeks of the ten constant-maturity yields (1993-2018, ~1300 windows) and the
10-year yield one week ahead. The cost of a case is the CPU time of one training epoch:
the CPU time of a fit of ``epochs`` epochs minus that of a fit of one epoch (which takes
set-up out), over ``epochs - 1``. The cases are measured in interleaved rounds (every
case once per round, ``--rounds`` rounds) and the median over the rounds is reported, so
that a change in the load of a shared machine hits every case alike; CPU time is not
inflated by other processes waiting for a core.

Cases: both estimators with the seed's recurrent dropout of 0.1, with one mask per
mini-batch (``recurrent_dropout_mode="batch"``, the fused LSTM kernel) and one mask per
window (``"sequence"``, Keras' sampling, a step-by-step loop), and without recurrent
dropout. The reference is a hand-written training loop of a same-size
``torch.nn.LSTM`` + linear head (Adam, MSE, shuffled mini-batches) on identical windows.
The ratios printed are the cost of each case over that of the same estimator without
recurrent dropout, and over the reference loop.

Optional peer comparison: ``--peer darts`` also times darts' ``BlockRNNModel`` (LSTM, same
size) when darts is installed (``pip install "darts[torch]" torch==<your torch version>``
in one command so the installed torch build is kept); darts exposes no per-epoch times,
so its row is the wall time of a whole fit per epoch.

Run::

    python benchmarks/bench_lstm.py --device cpu --threads 1
    python benchmarks/bench_lstm.py --device cuda
"""

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from skyield.datasets import load_treasury_cmt
from skyield.models import LSTMAttentionRegressor, LSTMRegressor
from skyield.preprocessing import make_windows

MATURITIES = ["3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y", "20Y", "30Y"]


def treasury_windows():
    panel = load_treasury_cmt("weekly", start="1993", end="2018", maturities=MATURITIES)
    windows = make_windows(panel, window=52, horizons=1, targets=[10.0])
    return panel, windows.X, windows.y[:, 0, :]


def estimator_epoch_seconds(model, X, y, epochs):
    """CPU seconds of one training epoch of ``model`` (set-up excluded)."""
    cpu = time.process_time()
    model.set_params(epochs=1).fit(X, y)
    one_epoch = time.process_time() - cpu
    cpu = time.process_time()
    model.set_params(epochs=epochs).fit(X, y)
    return (time.process_time() - cpu - one_epoch) / (epochs - 1)


def reference_epoch_seconds(X, y, units, epochs, batch_size, device, seed=0):
    """CPU seconds of one epoch of a same-size torch.nn.LSTM + linear head, plain loop."""
    torch.manual_seed(seed)
    device = torch.device(device)
    lstm = torch.nn.LSTM(X.shape[2], units, batch_first=True).to(device)
    head = torch.nn.Linear(units, y.shape[1]).to(device)
    params = list(lstm.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=1e-3)
    mean, std = X.mean(axis=(0, 1)), X.std(axis=(0, 1))
    inputs = torch.as_tensor((X - mean) / std, dtype=torch.float32)
    targets = torch.as_tensor((y - y.mean(0)) / y.std(0), dtype=torch.float32)
    dataset = torch.utils.data.TensorDataset(inputs, targets)
    generator = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True,
                                         generator=generator)
    cpu_durations = []
    for _ in range(epochs):
        cpu = time.process_time()
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad()
            out, _ = lstm(xb)
            loss = torch.nn.functional.mse_loss(head(out[:, -1]), yb)
            loss.backward()
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        cpu_durations.append(time.process_time() - cpu)
    return float(np.mean(cpu_durations[1:]))


def darts_epoch_seconds(panel, units, epochs, batch_size, device):
    """darts' BlockRNNModel (LSTM) on the same data: 10Y target, other yields as covariates."""
    try:
        from darts import TimeSeries
        from darts.models import BlockRNNModel
    except ImportError as error:
        raise SystemExit(
            f"--peer darts needs darts: pip install 'darts[torch]' with your torch version "
            f"({error})"
        ) from None
    frame = panel.astype("float32")
    frame.columns = [f"y{c:g}" for c in frame.columns]
    target = TimeSeries.from_dataframe(frame[["y10"]])
    covariates = TimeSeries.from_dataframe(frame.drop(columns="y10"))
    model = BlockRNNModel(
        model="LSTM", input_chunk_length=52, output_chunk_length=1, hidden_dim=units,
        n_rnn_layers=1, batch_size=batch_size, n_epochs=epochs, random_state=0,
        pl_trainer_kwargs={"accelerator": "gpu" if device == "cuda" else "cpu",
                           "enable_progress_bar": False},
    )
    tic = time.perf_counter()
    model.fit(target, past_covariates=covariates, verbose=False)
    return (time.perf_counter() - tic) / epochs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--epochs", type=int, default=3,
                        help="epochs of the long timed fit, at least 2")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds over all cases (median reported)")
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--peer", choices=["none", "darts"], default="none")
    parser.add_argument("--output", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2")
    torch.set_num_threads(args.threads)
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    if device == "auto":
        device = "cpu"

    panel, X, y = treasury_windows()
    common = dict(units=args.units, batch_size=args.batch_size, device=device, random_state=0)
    attention = dict(attn_dense_nodes=16, shared_attention=False, **common)
    cases = {
        "LSTMAttentionRegressor, recurrent dropout 0.1, one mask per mini-batch":
            ("attention", LSTMAttentionRegressor(recurrent_dropout_mode="batch", **attention)),
        "LSTMAttentionRegressor, recurrent dropout 0.1, one mask per window":
            ("attention", LSTMAttentionRegressor(recurrent_dropout_mode="sequence", **attention)),
        "LSTMAttentionRegressor, no recurrent dropout":
            ("attention", LSTMAttentionRegressor(recurrent_dropout=0.0, **attention)),
        "LSTMRegressor, recurrent dropout 0.1, one mask per mini-batch":
            ("lstm", LSTMRegressor(recurrent_dropout_mode="batch", **common)),
        "LSTMRegressor, recurrent dropout 0.1, one mask per window":
            ("lstm", LSTMRegressor(recurrent_dropout_mode="sequence", **common)),
        "LSTMRegressor, no recurrent dropout":
            ("lstm", LSTMRegressor(recurrent_dropout=0.0, **common)),
    }
    reference = "reference: torch.nn.LSTM + linear, plain loop"
    for _, model in cases.values():  # warm-up: first-call costs stay out of the timing
        model.set_params(epochs=1).fit(X, y)
    seconds = {name: [] for name in [*cases, reference]}
    for _ in range(args.rounds):
        for name, (_, model) in cases.items():
            seconds[name].append(estimator_epoch_seconds(model, X, y, args.epochs))
        seconds[reference].append(reference_epoch_seconds(X, y, args.units, args.epochs,
                                                          args.batch_size, device))
    median = {name: float(np.median(values)) for name, values in seconds.items()}
    without = {family: median[name] for name, (family, model) in cases.items()
               if model.recurrent_dropout == 0.0}
    rows = []
    for name, values in seconds.items():
        family = cases[name][0] if name in cases else None
        rows.append({"model": name, "cpu_seconds_per_epoch": median[name],
                     "rounds": [round(v, 4) for v in values],
                     "vs_no_dropout": median[name] / without[family] if family else None,
                     "vs_reference": median[name] / median[reference]})
    if args.peer == "darts":
        rows.append({"model": "darts BlockRNNModel (LSTM), wall time of a fit per epoch",
                     "wall_seconds_per_epoch": darts_epoch_seconds(
                         panel, args.units, args.epochs, args.batch_size, device)})

    info = {"device": device, "threads": args.threads, "n_windows": int(X.shape[0]),
            "window": 52, "n_series": 10, "units": args.units, "batch_size": args.batch_size,
            "epochs": args.epochs, "rounds": args.rounds, "torch": torch.__version__,
            "processor": platform.processor() or platform.machine()}
    info["load_average"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    print(f"{device}, {args.threads} thread(s), {X.shape[0]} windows of 52 x 10, "
          f"{args.units} units, batch {args.batch_size}, {args.rounds} rounds, "
          f"load average {info['load_average']}")
    print("| case | CPU s / epoch | windows / CPU s | vs. no recurrent dropout | vs. reference |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        if "cpu_seconds_per_epoch" not in row:
            print(f"| {row['model']} | {row['wall_seconds_per_epoch']:.3f} (wall) | | | |")
            continue
        ratio = f"{row['vs_no_dropout']:.2f}x" if row["vs_no_dropout"] else ""
        print(f"| {row['model']} | {row['cpu_seconds_per_epoch']:.3f} | "
              f"{X.shape[0] / row['cpu_seconds_per_epoch']:,.0f} | {ratio} | "
              f"{row['vs_reference']:.2f}x |")
    if args.output:
        Path(args.output).write_text(json.dumps({"info": info, "rows": rows}, indent=2))
    return rows


if __name__ == "__main__":
    main()
