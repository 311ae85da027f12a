"""Training throughput of LSTMAttentionRegressor and LSTMRegressor on weekly Treasury windows.

Windows of 52 weeks of the ten constant-maturity yields (1993-2018, ~1300 windows) and the
10-year yield one week ahead. Throughput is training windows per second, from the wall
time of an epoch (median over the timed epochs, after one warm-up epoch) and from the CPU
time of an epoch (which other processes on a shared machine do not inflate). The
reference is a hand-written training loop of a same-size ``torch.nn.LSTM`` + linear head
(Adam, MSE, shuffled mini-batches) on identical windows: the cost of the framework
(skorch, validation, standardisation) and of the model's own choices (attention decoder,
hand-written recurrent-dropout loop) shows against it.

Optional peer comparison: ``--peer darts`` also times darts' ``BlockRNNModel`` (LSTM, same
size) when darts is installed (``pip install "darts[torch]" torch==<your torch version>``
in one command so the installed torch build is kept).

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


def estimator_throughput(model, X, y):
    """Training windows per second: from wall time (median epoch) and from CPU time.

    CPU time per epoch is the difference between a fit of ``epochs`` epochs and a fit of
    one epoch (both after a warm-up fit), divided by ``epochs - 1``: it excludes set-up and
    does not depend on other processes sharing the machine.
    """
    epochs = model.epochs
    model.set_params(epochs=1).fit(X, y)  # warm-up: first-call costs stay out of the timing
    cpu = time.process_time()
    model.fit(X, y)
    one_epoch = time.process_time() - cpu
    cpu = time.process_time()
    model.set_params(epochs=epochs).fit(X, y)
    cpu_per_epoch = (time.process_time() - cpu - one_epoch) / (epochs - 1)
    durations = np.asarray(model.net_.history[:, "dur"])[1:]
    return X.shape[0] / float(np.median(durations)), X.shape[0] / cpu_per_epoch, durations


def reference_throughput(X, y, units, epochs, batch_size, device, seed=0):
    """Same-size torch.nn.LSTM + linear head, plain training loop."""
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
    durations, cpu_durations = [], []
    for _ in range(epochs):
        tic, cpu = time.perf_counter(), time.process_time()
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad()
            out, _ = lstm(xb)
            loss = torch.nn.functional.mse_loss(head(out[:, -1]), yb)
            loss.backward()
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        durations.append(time.perf_counter() - tic)
        cpu_durations.append(time.process_time() - cpu)
    durations = np.asarray(durations[1:])
    return (X.shape[0] / float(np.median(durations)),
            X.shape[0] / float(np.mean(cpu_durations[1:])), durations)


def darts_throughput(panel, units, epochs, batch_size, device):
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
    elapsed = time.perf_counter() - tic
    n_windows = len(panel) - 52
    return n_windows * epochs / elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--epochs", type=int, default=4,
                        help="epochs per timed fit, at least 2 (the first is warm-up)")
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--peer", choices=["none", "darts"], default="none")
    parser.add_argument("--output", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch is a warm-up)")
    torch.set_num_threads(args.threads)
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    if device == "auto":
        device = "cpu"

    panel, X, y = treasury_windows()
    common = dict(units=args.units, epochs=args.epochs, batch_size=args.batch_size,
                  device=device, random_state=0)
    cases = {
        "LSTMAttentionRegressor (attn 16, per-output, recurrent dropout 0.1)":
            LSTMAttentionRegressor(attn_dense_nodes=16, shared_attention=False, **common),
        "LSTMAttentionRegressor (attn 16, per-output, no recurrent dropout)":
            LSTMAttentionRegressor(attn_dense_nodes=16, shared_attention=False,
                                   recurrent_dropout=0.0, **common),
        "LSTMRegressor (recurrent dropout 0.1)": LSTMRegressor(**common),
        "LSTMRegressor (no recurrent dropout)": LSTMRegressor(recurrent_dropout=0.0, **common),
    }
    rows = []
    for name, model in cases.items():
        rate, cpu_rate, durations = estimator_throughput(model, X, y)
        rows.append({"model": name, "windows_per_second": rate,
                     "windows_per_cpu_second": cpu_rate,
                     "epoch_seconds": durations.round(3).tolist()})
    rate, cpu_rate, durations = reference_throughput(X, y, args.units, args.epochs,
                                                     args.batch_size, device)
    rows.append({"model": "reference: torch.nn.LSTM + linear, plain loop",
                 "windows_per_second": rate, "windows_per_cpu_second": cpu_rate,
                 "epoch_seconds": durations.round(3).tolist()})
    if args.peer == "darts":
        rows.append({"model": "darts BlockRNNModel (LSTM)",
                     "windows_per_second": darts_throughput(panel, args.units, args.epochs,
                                                            args.batch_size, device)})

    info = {"device": device, "threads": args.threads, "n_windows": int(X.shape[0]),
            "window": 52, "n_series": 10, "units": args.units, "batch_size": args.batch_size,
            "epochs": args.epochs, "torch": torch.__version__,
            "processor": platform.processor() or platform.machine()}
    info["load_average"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    print(f"{device}, {args.threads} thread(s), {X.shape[0]} windows of 52 x 10, "
          f"{args.units} units, batch {args.batch_size}, load average {info['load_average']}")
    print("| model | windows / s (wall) | windows / CPU s |")
    print("|---|---:|---:|")
    for row in rows:
        cpu_rate = row.get("windows_per_cpu_second")
        shown = f"{cpu_rate:.0f}" if cpu_rate else "-"
        print(f"| {row['model']} | {row['windows_per_second']:.0f} | {shown} |")
    if args.output:
        Path(args.output).write_text(json.dumps({"info": info, "rows": rows}, indent=2))
    return rows


if __name__ == "__main__":
    main()
