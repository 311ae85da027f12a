"""Timing of the neural state space model's objective: log-posterior and its gradient.

One evaluation of what ``NeuralStateSpaceModel.fit`` optimises, in the setting of seed
004: 750 dates, 11 maturities (1 to 84 months), 5 factors, the loading network with two
hidden layers of 300 tanh units. Rows:

* the whole objective (network -> loadings -> Kalman log-likelihood + log-priors) and its
  gradient with respect to every parameter (90,000 network weights, F, log P, log Q), with
  the sequential filter and with the parallel scan;
* the Kalman log-likelihood and gradient alone (loadings held as a leaf tensor);
* the network alone (loadings at the 11 maturities and the backward pass).

The data are simulated from the model with Svensson-like loadings (no missing values).
Each entry is the median of ``--repeats`` runs after one warm-up run: wall-clock time and
the CPU time of the process. The table is printed and written as a Markdown page
(``--output``; the block between the page's markers is replaced, the rest of the page is
kept). Run::

    .venv/bin/python benchmarks/bench_nnss.py

and, on a machine with a GPU, ``--device cuda`` (the CPU rows are measured as well).
"""

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from skyield._nelson_siegel import nelson_siegel_loadings, svensson_loadings
from skyield.models._nnss_objective import Priors, log_likelihood, log_posterior
from skyield.nn._neural_loadings import NeuralLoadings
from skyield.statespace import simulate_state_space

MATURITIES_MONTHS = np.array([1, 2, 3, 6, 12, 24, 36, 48, 60, 72, 84.0])
N_DATES, N_FACTORS = 750, 5
PRIORS = Priors(a=0.1, b=0.001, lam=0.5, gamma=0.9, weight_var=0.05)


def make_problem(seed=0):
    """Simulated yields (percent) and a starting point of the objective."""
    tau = MATURITIES_MONTHS / 12.0
    loadings = np.column_stack([svensson_loadings(tau, 1.5, 0.3),
                                nelson_siegel_loadings(tau, 0.3)[:, 1]])
    rng = np.random.default_rng(seed)
    F = np.diag(np.linspace(0.999, 0.95, N_FACTORS)) + 0.005 * rng.normal(size=(N_FACTORS,) * 2)
    P = np.diag(rng.uniform(0.002, 0.02, N_FACTORS))
    Q = np.diag(rng.uniform(0.02, 0.08, tau.size) ** 2)
    y, _ = simulate_state_space(loadings, F, Q, P, n=N_DATES, a0=[4.0, -2.0, 1.0, 0.5, 0.5],
                                random_state=seed)
    return tau, y, loadings, F, np.diag(P), np.diag(Q)


def median_time(func, repeats, sync=None):
    """Median wall-clock and process CPU seconds of ``func`` over ``repeats`` runs."""
    func()
    if sync:
        sync()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        func()
        if sync:
            sync()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def run_benchmarks(device, repeats):
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    where = "GPU" if device.type == "cuda" else "CPU"
    tau, y, loadings, F, P, Q = make_problem()

    def as_t(array):
        return torch.as_tensor(np.ascontiguousarray(array), dtype=torch.float64, device=device)

    tau_t, y_t = as_t(tau), as_t(y)
    initial_var = 10.0 * float(np.mean(y**2))
    torch.manual_seed(0)
    module = NeuralLoadings(N_FACTORS, (300, 300), maturity_scale=float(tau.max()))
    module = module.to(device=device, dtype=torch.float64)
    weights = list(module.parameters())
    rows = []
    for name in ("sequential", "parallel"):
        def objective(filter=name):
            F_t = as_t(F).requires_grad_()
            log_p, log_q = as_t(np.log(P)).requires_grad_(), as_t(np.log(Q)).requires_grad_()
            for w in weights:
                w.grad = None
            value, _ = log_posterior(y_t, module(tau_t), weights, F_t, log_p.exp(), log_q.exp(),
                                     PRIORS, initial_var, filter)
            value.backward()

        def filter_only(filter=name):
            leaves = [as_t(a).requires_grad_() for a in (loadings, F, np.log(P), np.log(Q))]
            result = log_likelihood(y_t, leaves[0], leaves[1], leaves[2].exp(), leaves[3].exp(),
                                    initial_var, filter)
            result.loglike.backward()

        label = "sequential" if name == "sequential" else "parallel scan"
        rows.append(("log-posterior + gradient (network, filter, priors)",
                     f"{label} ({where})", median_time(objective, repeats, sync)))
        rows.append(("Kalman log-likelihood + gradient only",
                     f"{label} ({where})", median_time(filter_only, repeats, sync)))

    def network_only():
        for w in weights:
            w.grad = None
        module(tau_t).sum().backward()

    rows.append(("loading network (11 maturities) + gradient only", f"({where})",
                 median_time(network_only, repeats, sync)))
    return rows


def format_table(rows):
    lines = ["| task | filter (device) | wall time (ms) | CPU time (ms) |",
             "|---|---|---:|---:|"]
    lines += [f"| {task} | {impl} | {wall * 1e3:.1f} | {cpu * 1e3:.1f} |"
              for task, impl, (wall, cpu) in rows]
    return "\n".join(lines)


def _load_average():
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:  # pragma: no cover - not available on every platform
        return "n/a"


START, END = "<!-- bench_nnss: start -->", "<!-- bench_nnss: end -->"
PAGE = """# Neural state space model: performance

{start}
{section}{end}
"""
SECTION = """## One evaluation of the MAP objective

What one iteration of `NeuralStateSpaceModel.fit` costs (L-BFGS-B needs about 1.1
evaluations per iteration): the log-posterior of the seed-004 setting (750 dates,
11 maturities, 5 factors, loading network with two hidden layers of 300 tanh units, about
91,000 weights) and its gradient with respect to every parameter. The data are simulated
from the model. Median of {repeats} runs after a warm-up: wall-clock time and the CPU time
of the benchmark process (`time.process_time`; on a busy machine the better measure of
the work done, since waiting for a core is excluded).

Command: `{command}`

Machine: {cores} CPU cores ({machine}), Python {python}, torch {torch},
`torch.set_num_threads({threads})`, GPU: {gpu}. 1-minute load average {load_before} before
and {load_after} after the run, on {cores} cores: the machine was shared with other
processes, which inflates wall-clock times by an unknown amount.

{table}
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--output", default="docs/performance/nnss.md",
                        help="Markdown file to write ('' to skip)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda requested but CUDA is not available")
    torch.set_num_threads(args.threads)
    load_before = _load_average()
    rows = run_benchmarks(torch.device("cpu"), args.repeats)
    if args.device == "cuda":
        rows += run_benchmarks(torch.device("cuda"), args.repeats)
    load_after = _load_average()
    table = format_table(rows)
    print(table)
    if args.output:
        command = ".venv/bin/python benchmarks/bench_nnss.py " + " ".join(
            sys.argv[1:] if argv is None else argv)
        text = SECTION.format(
            repeats=args.repeats, command=command.strip(), cores=os.cpu_count(),
            machine=platform.machine(), python=platform.python_version(),
            torch=torch.__version__, threads=args.threads,
            gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
            load_before=load_before, load_after=load_after, table=table)
        write_section(Path(args.output), text)


def write_section(path, section):
    """Replace the measured block of ``path`` (between the markers), keeping the rest."""
    if path.exists() and START in path.read_text():
        page = path.read_text()
        head, rest = page.split(START, 1)
        tail = rest.split(END, 1)[1] if END in rest else ""
        path.write_text(f"{head}{START}\n{section}{END}{tail}")
    else:
        path.write_text(PAGE.format(start=START, section=section, end=END))


if __name__ == "__main__":
    main()
