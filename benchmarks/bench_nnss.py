"""Timing of the neural state space model's objective: log-posterior and its gradient.

One evaluation of what ``NeuralStateSpaceModel.fit`` optimises, in the setting of seed
004: 750 dates, 11 maturities (1 to 84 months), 5 factors, the loading network with two
hidden layers of 300 tanh units. Cases, timed in interleaved rounds (see ``_timing.py``):

* the whole objective (network -> loadings -> Kalman log-likelihood + log-priors) and its
  gradient with respect to every parameter (90,000 network weights, F, log P, log Q), with
  the sequential filter and with the parallel scan;
* the Kalman log-likelihood and gradient alone (loadings held as a leaf tensor);
* the network alone (loadings at the 11 maturities and the backward pass);
* statsmodels' log-likelihood of the same state space model (no gradient), a yardstick
  that makes runs at different times, and on different machines, comparable.

The data are simulated from the model with Svensson-like loadings (no missing values).
CPU time of the process, medians over the rounds; one thread for torch and for numpy's
BLAS. The block of the page between its markers is replaced (``--output``; '' only
prints). Run::

    .venv/bin/python benchmarks/bench_nnss.py

and, on a machine with a GPU, ``--device cuda`` (the CPU rows are measured as well).
"""

import argparse
import os
import platform
import sys

import numpy as np
import torch
from statsmodels.tsa.statespace.mlemodel import MLEModel
from threadpoolctl import threadpool_limits

from _timing import (interleaved, load_average, load_note, median_cpu, median_ratio, median_wall,
                     write_section)

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


def statsmodels_loglike(y, loadings, F, P, Q, initial_var):
    """statsmodels' log-likelihood of the same model (known start, no gradient)."""
    k = F.shape[0]
    model = MLEModel(y, k_states=k)
    model.ssm["design"] = loadings
    model.ssm["obs_cov"] = np.diag(Q)
    model.ssm["transition"] = F
    model.ssm["selection"] = np.eye(k)
    model.ssm["state_cov"] = np.diag(P)
    model.ssm.initialize_known(np.zeros(k), initial_var * np.eye(k))
    return model.ssm.loglike


def skyield_cases(device, problem):
    tau, y, loadings, F, P, Q = problem

    def as_t(array):
        return torch.as_tensor(np.ascontiguousarray(array), dtype=torch.float64, device=device)

    tau_t, y_t = as_t(tau), as_t(y)
    initial_var = 10.0 * float(np.mean(y**2))
    torch.manual_seed(0)
    module = NeuralLoadings(N_FACTORS, (300, 300), maturity_scale=float(tau.max()))
    module = module.to(device=device, dtype=torch.float64)
    weights = list(module.parameters())
    cases = {}
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
        cases[("log-posterior + gradient (network, filter, priors)", label, device.type)] = objective
        cases[("Kalman log-likelihood + gradient only", label, device.type)] = filter_only

    def network_only():
        for w in weights:
            w.grad = None
        module(tau_t).sum().backward()

    cases[("loading network (11 maturities) + gradient only", "", device.type)] = network_only
    return cases


def run_benchmarks(devices, rounds):
    problem = make_problem()
    tau, y, loadings, F, P, Q = problem
    yardstick = ("statsmodels log-likelihood of the same model (no gradient)", "", "cpu")
    cases = {yardstick: statsmodels_loglike(y, loadings, F, P, Q, 10.0 * float(np.mean(y**2)))}
    for device in devices:
        cases.update(skyield_cases(torch.device(device), problem))
    sync = torch.cuda.synchronize if "cuda" in devices else None
    times = interleaved(cases, rounds, sync)
    return [(*case, times[case], median_ratio(times[case], times[yardstick])) for case in cases]


def format_table(rows):
    lines = ["| task | filter | device | CPU ms | wall ms | x statsmodels log-likelihood |",
             "|---|---|---|---:|---:|---:|"]
    lines += [f"| {task} | {impl} | {device.upper()} | {1e3 * median_cpu(samples):.1f} | "
              f"{1e3 * median_wall(samples):.1f} | {ratio:.1f} |"
              for task, impl, device, samples, ratio in rows]
    return "\n".join(lines)


START, END = "<!-- bench_nnss: start -->", "<!-- bench_nnss: end -->"
SECTION = """## One evaluation of the MAP objective

What one iteration of `NeuralStateSpaceModel.fit` costs (L-BFGS-B needs about 1.1
evaluations per iteration): the log-posterior of the seed-004 setting (750 dates,
11 maturities, 5 factors, loading network with two hidden layers of 300 tanh units, about
91,000 weights) and its gradient with respect to every parameter. The data are simulated
from the model. {rounds} interleaved rounds; CPU time of the process (`time.process_time`)
and wall time, medians over the rounds; the last column is the median over the rounds of
the ratio to statsmodels' log-likelihood (without gradient) of the same model, timed in the
same rounds.

Command: `{command}`

Machine: {cores} CPU cores ({machine}), Python {python}, torch {torch}, one thread (torch
and numpy's BLAS), GPU: {gpu}. {load}

{table}
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--output", default="docs/performance/nnss.md",
                        help="Markdown file to write ('' to skip)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda requested but CUDA is not available")
    torch.set_num_threads(1)
    load_before = load_average()
    devices = ["cpu"] + (["cuda"] if args.device == "cuda" else [])
    with threadpool_limits(limits=1):
        rows = run_benchmarks(devices, args.rounds)
    table = format_table(rows)
    print(table)
    if args.output:
        command = ".venv/bin/python benchmarks/bench_nnss.py " + " ".join(
            sys.argv[1:] if argv is None else argv)
        text = SECTION.format(
            rounds=args.rounds, command=command.strip(), cores=os.cpu_count(),
            machine=platform.machine(), python=platform.python_version(),
            torch=torch.__version__,
            gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
            load=load_note(load_before, load_average()), table=table)
        write_section(args.output, text, START, END, "Neural state space model: performance")


if __name__ == "__main__":
    main()
