"""Timing of the skyield Kalman filters against statsmodels, interleaved in one run.

The dynamic Nelson-Siegel model of the performance targets: 17 maturities (3-120
months), 3 factors with a VAR(1) state, 500 dates. Cases, all timed in the same
interleaved rounds (see ``_timing.py``):

* one log-likelihood: statsmodels (``MLEModel.ssm.loglike()``, default settings with its
  steady-state shortcut), skyield's ``kalman_filter`` and ``parallel_kalman_filter``
  (under ``torch.no_grad()``);
* 64 parameter sets: a statsmodels loop against one batched skyield call;
* the gradient: skyield's log-likelihood and its gradient with respect to every matrix
  (autograd), against statsmodels' forward differences over the 35 free parameters of
  the model (``T``, ``c``, the lower triangle of ``Q``, the diagonal of ``H``: 36 filter
  runs);
* long samples (4,000 to 32,000 dates), for the cost per date.

Ratios are medians over the rounds of the ratio of CPU times within a round. Each group
of cases of one size (one parameter set; 64 sets; each long sample) is timed in rounds of
its own, each case repeated back to back within a round (10 times for one set, twice for
64 sets), so that a large case does not leave its memory and caches to a small one. One
thread for torch and for numpy's BLAS (threadpoolctl). Run from the repository root::

    .venv/bin/python benchmarks/bench_kalman.py

The measured block of ``docs/performance/kalman.md`` (between its markers) is replaced;
``--output ''`` only prints. CUDA rows are added when a GPU is available.
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
from skyield.statespace import kalman_filter, parallel_kalman_filter, simulate_state_space

MATURITIES = np.array([3, 6, 9, 12, 15, 18, 21, 24, 30, 36, 48, 60, 72, 84, 96, 108, 120.0])
LONG_SAMPLES = (4000, 8000, 16000, 32000)
START, END = "<!-- bench_kalman: start -->", "<!-- bench_kalman: end -->"


def nelson_siegel_loadings(maturities, lam):
    x = lam * maturities
    slope = (1 - np.exp(-x)) / x
    return np.column_stack([np.ones_like(x), slope, slope - np.exp(-x)])


def make_model(n_dates, seed=0):
    """DNS matrices (``Z``, ``T``, ``H``, ``Q``, ``c``) and simulated yields."""
    rng = np.random.default_rng(seed)
    Z = nelson_siegel_loadings(MATURITIES, 0.0609)
    T = np.diag([0.99, 0.92, 0.85]) + 0.01 * rng.normal(size=(3, 3))
    A = 0.2 * rng.normal(size=(3, 3))
    Q = A @ A.T + 0.05 * np.eye(3)
    H = np.diag(rng.uniform(0.01, 0.05, len(MATURITIES)) ** 2)
    c = 0.01 * rng.normal(size=3)
    params = {"Z": Z, "T": T, "H": H, "Q": Q, "c": c}
    y, _ = simulate_state_space(n=n_dates, a0=np.linalg.solve(np.eye(3) - T, c),
                                random_state=seed, **params)
    return params, y


def parameter_sets(params, size, seed):
    """``size`` perturbed copies: ``T`` and ``H`` scaled per set."""
    rng = np.random.default_rng(seed)
    scale_t = rng.uniform(0.9, 1.0, size)
    scale_h = rng.uniform(0.5, 2.0, size)
    return {**params, "T": params["T"] * scale_t[:, None, None],
            "H": params["H"] * scale_h[:, None, None]}


def statsmodels_model(y, k_states):
    model = MLEModel(y, k_states=k_states)
    model.ssm["selection"] = np.eye(k_states)
    model.ssm.initialize_stationary()
    return model


def set_matrices(model, p):
    model.ssm["design"] = p["Z"]
    model.ssm["obs_cov"] = p["H"]
    model.ssm["transition"] = p["T"]
    model.ssm["state_cov"] = p["Q"]
    model.ssm["state_intercept"] = p["c"]


def statsmodels_loglike(y, sets):
    """A loop of statsmodels log-likelihoods over the parameter sets ``sets``."""
    model = statsmodels_model(y, sets[0]["T"].shape[0])

    def run():
        for p in sets:
            set_matrices(model, p)
            model.ssm.loglike()

    return run


def statsmodels_forward_differences(y, params, step=1e-6):
    """Forward-difference gradient over T, c, the lower triangle of Q and diag(H)."""
    model = statsmodels_model(y, 3)
    rows, cols = np.tril_indices(3)
    vector = np.concatenate([params["T"].ravel(), params["c"], params["Q"][rows, cols],
                             np.diag(params["H"])])

    def matrices(v):
        Q = np.zeros((3, 3))
        Q[rows, cols] = v[12:18]
        Q = Q + np.tril(Q, -1).T
        return {"Z": params["Z"], "T": v[:9].reshape(3, 3), "c": v[9:12], "Q": Q,
                "H": np.diag(v[18:])}

    def loglike(v):
        set_matrices(model, matrices(v))
        return model.ssm.loglike()

    def run():
        base = loglike(vector)
        return np.array([(loglike(vector + step * e) - base) / step for e in np.eye(len(vector))])

    return run


def skyield_cases(params, y, sets, device):
    as_t = lambda a: torch.as_tensor(a, dtype=torch.float64, device=device)  # noqa: E731
    p_t = {k: as_t(v) for k, v in params.items()}
    s_t = {k: as_t(v) for k, v in sets.items()}
    y_t = as_t(y)

    def no_grad(filt, p):
        def run():
            with torch.no_grad():
                filt(y_t, **p)
        return run

    def gradient():
        leaves = {k: v.clone().requires_grad_() for k, v in p_t.items()}
        kalman_filter(y_t, **leaves).loglike.backward()

    return {
        "sequential": no_grad(kalman_filter, p_t),
        "parallel": no_grad(parallel_kalman_filter, p_t),
        "sequential 64": no_grad(kalman_filter, s_t),
        "parallel 64": no_grad(parallel_kalman_filter, s_t),
        "gradient": gradient,
    }


def run_benchmarks(rounds, long_rounds):
    """Three groups, each timed in interleaved rounds of its own: cases of one size only."""
    params, y = make_model(500)
    sets = parameter_sets(params, 64, seed=1)
    set_list = [{**params, "T": sets["T"][i], "H": sets["H"][i]} for i in range(64)]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    sync = torch.cuda.synchronize if torch.cuda.is_available() else None
    skyield = {device: skyield_cases(params, y, sets, device) for device in devices}

    one = {"statsmodels": statsmodels_loglike(y, [params]),
           "statsmodels gradient": statsmodels_forward_differences(y, params)}
    batched = {"statsmodels 64": statsmodels_loglike(y, set_list)}
    for device, cases in skyield.items():
        for name in ("sequential", "parallel", "gradient"):
            one[f"{name} ({device})"] = cases[name]
        for name in ("sequential 64", "parallel 64"):
            batched[f"{name} ({device})"] = cases[name]
    times = interleaved(one, rounds, sync, repeat=10)
    times.update(interleaved(batched, rounds, sync, repeat=2))

    for n in LONG_SAMPLES:
        p_n, y_n = make_model(n, seed=2)
        long_cases = {f"statsmodels n={n}": statsmodels_loglike(y_n, [p_n])}
        for device in devices:
            long_cases[f"sequential n={n} ({device})"] = skyield_cases(p_n, y_n, sets, device)["sequential"]
        times.update(interleaved(long_cases, long_rounds, sync))
    return times, devices


def format_tables(times, devices):
    def row(task, implementation, case, ratio):
        return (f"| {task} | {implementation} | {1e3 * median_cpu(times[case]):.2f} | "
                f"{1e3 * median_wall(times[case]):.2f} | {ratio} |")

    def ratio(a, b):
        return f"{median_ratio(times[a], times[b]):.2f}"

    lines = ["| task | implementation | CPU ms | wall ms | ratio |", "|---|---|---:|---:|---|",
             row("one log-likelihood", "statsmodels", "statsmodels", "1")]
    for device in devices:
        for name in ("sequential", "parallel"):
            case = f"{name} ({device})"
            lines.append(row("one log-likelihood", f"skyield {name} ({device.upper()})", case,
                             f"{ratio(case, 'statsmodels')} x statsmodels"))
    lines.append(row("64 parameter sets", "statsmodels, loop of 64", "statsmodels 64", "1"))
    for device in devices:
        for name in ("sequential", "parallel"):
            case = f"{name} 64 ({device})"
            lines.append(row("64 parameter sets", f"skyield {name}, one batched call ({device.upper()})",
                             case, f"{ratio('statsmodels 64', case)} x faster than statsmodels"))
    lines.append(row("gradient", "statsmodels, forward differences (36 runs)", "statsmodels gradient",
                     f"{ratio('statsmodels gradient', 'statsmodels')} x its log-likelihood"))
    for device in devices:
        case = f"gradient ({device})"
        lines.append(row("gradient", f"skyield log-likelihood + autograd gradient ({device.upper()})",
                         case, f"{ratio(case, f'sequential ({device})')} x its log-likelihood, "
                               f"{ratio(case, 'statsmodels')} x statsmodels'"))
    lines += ["", "| dates | statsmodels CPU ms | statsmodels us / date |"
              + "".join(f" skyield ({d.upper()}) CPU ms | skyield us / date | ratio |" for d in devices),
              "|---:|---:|---:|" + "---:|---:|---:|" * len(devices)]
    for n in LONG_SAMPLES:
        sm = times[f"statsmodels n={n}"]
        line = f"| {n:,} | {1e3 * median_cpu(sm):.1f} | {1e6 * median_cpu(sm) / n:.2f} |"
        for device in devices:
            sky = times[f"sequential n={n} ({device})"]
            line += (f" {1e3 * median_cpu(sky):.1f} | {1e6 * median_cpu(sky) / n:.2f} | "
                     f"{median_ratio(sky, sm):.2f} |")
        lines.append(line)
    return "\n".join(lines)


SECTION = """## Measured

Command: `{command}`

Machine: {cpus} CPU cores ({processor}), Python {python}, torch {torch}, one thread
(`torch.set_num_threads(1)` and a BLAS limit of one thread for numpy and statsmodels through
threadpoolctl), GPU: {gpu}. {rounds} interleaved rounds per group of cases of one size
(long samples: {long_rounds}), each case repeated back to back within a round (10 times for
one parameter set, twice for 64); CPU time of the process (`time.process_time`) and wall
time, medians over the rounds; a ratio is the median over the rounds of the ratio of CPU
times within a round. {load}

{tables}
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds")
    parser.add_argument("--long-rounds", type=int, default=5,
                        help="interleaved rounds of the long samples")
    parser.add_argument("--output", default="docs/performance/kalman.md",
                        help="Markdown page whose measured block is replaced ('' to skip)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    before = load_average()
    with threadpool_limits(limits=1):
        times, devices = run_benchmarks(args.rounds, args.long_rounds)
    tables = format_tables(times, devices)
    print(tables)
    if args.output:
        command = " ".join([".venv/bin/python benchmarks/bench_kalman.py",
                            *(sys.argv[1:] if argv is None else argv)])
        section = SECTION.format(
            command=command, cpus=os.cpu_count(),
            processor=platform.processor() or platform.machine(),
            python=platform.python_version(), torch=torch.__version__,
            gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
            rounds=args.rounds, long_rounds=args.long_rounds,
            load=load_note(before, load_average()), tables=tables)
        write_section(args.output, section, START, END, "Kalman filter: performance")
        print(f"written to {args.output}")


if __name__ == "__main__":
    main()
