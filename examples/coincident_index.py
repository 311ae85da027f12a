"""A coincident index of U.S. real activity with the dynamic-factor Transformer.

Section 4 of seed 002.

The four Stock-Watson coincident indicators bundled with skyield (industrial production,
real manufacturing and trade sales, real personal income less transfers, average weekly
hours in manufacturing) are turned into log differences, all four of them as in the seed.
The last month, where sales are not yet published, is dropped by the explicit rule
``incomplete="drop_edges"``, and the first month, which has no difference, by slicing it
off; the sample then starts in 1967-01 as in the seed.

The Transformer is fitted on 1967-2025 with its chronological validation tail (the last
20% of the months): its standardisation and its Kalman-filter prior are fitted on the
training span only. As in the seed: 20 runs (trained together as one stacked model),
prior weight 0.2, lighter regularisation (dropout 0.1, weight decay 0.01), Table 4's
schedule otherwise. The linear-Gaussian Kalman index (the Transformer's prior, estimated
on the same training span) is drawn beside it, both in standard deviations of the
training span, with the NBER recessions shaded; the 1990, 2008 and 2020 recessions get a
panel each.

Section 4's further results, for each of the three recessions: the real-time projections
(the run with the lowest validation loss rolled 6 months forward on its own predictions
from every month, Figures 34c, 36c, 38c) and the State attention matrix of the first
recession month (Figures 35a, 37a, 39a); and the attention evolution over the whole
sample (Figures 51-53: State attention by variable and by lag, Measurement attention by
factor lag). The numbers printed, and written to ``--output`` as JSON, summarise them:
the index against the Kalman index and the NBER dates, the projected 6-month change of
the factor in recession and expansion months and at the first month of each recession,
and the attention shares in recessions and expansions.

Usage::

    python examples/coincident_index.py --output coincident.json          # as reported
    python examples/coincident_index.py --runs 20 --epochs 1000 --cycle-epochs 100
                                                        # the seed's full schedule
    python examples/coincident_index.py --quick --figures /tmp/ci         # CI size
"""

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from skyield.baselines import KalmanFactorModel
from skyield.datasets import load_coincident_indicators, load_nber_recessions
from skyield.models import FactorTransformer
from skyield.plotting import (
    plot_attention_contributions,
    plot_attention_matrix,
    plot_factor_runs,
    plot_tentacles,
    shade_periods,
)

NAMES = {"INDPRO": "Production", "CMRMTSPLx": "Sales", "W875RX1": "Income",
         "AWHMAN": "Hours"}
EPISODES = {"1990": ("1988-01", "1993-12"), "2008": ("2006-01", "2011-12"),
            "2020": ("2018-06", "2021-12")}
STEPS = 6  # months of the real-time projections (section 4.3)


def load_growth(start="1967-01"):
    """Log differences of the four indicators from ``start``, complete months only."""
    levels = load_coincident_indicators(transform=False, incomplete="drop_edges")
    growth = np.log(levels).diff()
    growth = growth.iloc[1:]  # the first month has no difference
    growth = growth.loc[start:].rename(columns=NAMES)
    growth.attrs["dropped_dates"] = levels.attrs["dropped_dates"]
    return growth


def recession_spans():
    recessions = load_nber_recessions()
    # NBER: a recession runs from the month after the peak through the trough month.
    return (recessions["peak"] + pd.offsets.MonthBegin(1),
            recessions["trough"] + pd.offsets.MonthEnd(0))


def standardise(series, n_train):
    series = pd.Series(np.asarray(series, dtype=float).ravel())
    train = series.iloc[:n_train].dropna()
    return ((series - train.mean()) / train.std()).to_numpy()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--cycle-epochs", type=int, default=100)
    parser.add_argument("--prior-weight", type=float, default=0.2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--figures", default="docs/models/img",
                        help="folder for the figures (ft_coincident_*.png)")
    parser.add_argument("--output", default=None, help="JSON file for the numbers")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing --output file")
    parser.add_argument("--quick", action="store_true",
                        help="2 runs of 2 epochs of a small network (CI)")
    args = parser.parse_args(argv)
    if args.output and Path(args.output).exists() and not args.overwrite:
        parser.error(f"{args.output} already exists; pass --overwrite to replace it")
    if args.quick:
        args.runs, args.epochs, args.cycle_epochs = 2, 2, 2
    return args


def build_model(args):
    small = dict(d_model=8, n_heads=2, d_k=4, d_ff=16) if args.quick else {}
    return FactorTransformer(prior_weight=args.prior_weight, dropout=0.1, weight_decay=0.01,
                             n_runs=args.runs, epochs=args.epochs,
                             cycle_epochs=args.cycle_epochs,
                             warmup_epochs=max(1, args.cycle_epochs // 10),
                             random_state=args.seed, **small)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    growth = load_growth()
    print(f"{len(growth)} months {growth.index[0]:%Y-%m} to {growth.index[-1]:%Y-%m}; "
          f"dropped incomplete months: {growth.attrs['dropped_dates']}")

    started, started_cpu = time.perf_counter(), time.process_time()
    model = build_model(args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(growth)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
    n_train = model.n_train_
    print(f"training span {growth.index[0]:%Y-%m} to {growth.index[n_train - 1]:%Y-%m}, "
          f"validation to {growth.index[-1]:%Y-%m}; {seconds:.0f} s ({cpu_seconds:.0f} s "
          f"CPU), epochs per run {model.n_epochs_.tolist()}, best run {model.best_run_}")

    # The Kalman index is the Transformer's own prior: KalmanFactorModel fitted on the
    # training span, filtering every month with frozen parameters, oriented like the
    # Transformer's factor (with the mean of the indicators).
    kalman = model.prior_
    assert isinstance(kalman, KalmanFactorModel) and kalman.n_dates_seen_ == n_train
    kalman_index = model.prior_sign_ * standardise(kalman.transform(growth)[:, 0], n_train)
    factor, runs = model.transform(growth, return_runs=True)
    index = factor["factor"].to_numpy()
    starts, ends = recession_spans()
    in_recession = np.zeros(len(growth), dtype=bool)
    for start, end in zip(starts, ends):
        in_recession |= (growth.index >= start) & (growth.index <= end)
    finite = np.isfinite(index)
    numbers = {
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                    "device": "cpu", "load_average": list(os.getloadavg())},
        "settings": {k: v for k, v in vars(args).items()},
        "fit_seconds": seconds, "fit_cpu_seconds": cpu_seconds,
        "epochs_per_run": model.n_epochs_.tolist(), "best_run": model.best_run_,
        "valid_loss": model.valid_loss_.tolist(),
        "correlation_with_kalman": float(np.corrcoef(index[finite], kalman_index[finite])[0, 1]),
        "mean_in_recessions": float(np.nanmean(index[in_recession])),
        "mean_in_expansions": float(np.nanmean(index[~in_recession])),
        "kalman_mean_in_recessions": float(kalman_index[in_recession].mean()),
        "kalman_mean_in_expansions": float(kalman_index[~in_recession].mean()),
        "episodes": {},
    }
    print(f"correlation with the Kalman index: {numbers['correlation_with_kalman']:.3f}")
    print(f"mean index in NBER recessions {numbers['mean_in_recessions']:.2f}, in expansions "
          f"{numbers['mean_in_expansions']:.2f} (Kalman: "
          f"{numbers['kalman_mean_in_recessions']:.2f}, "
          f"{numbers['kalman_mean_in_expansions']:.2f})")

    projection = model.project(growth, steps=STEPS)
    change = pd.Series(projection.factor[:, -1] - projection.factor[:, 0],
                       index=projection.origins)
    origin_recession = pd.Series(in_recession, index=growth.index).loc[projection.origins]
    numbers["projected_change_in_recessions"] = float(change[origin_recession].mean())
    numbers["projected_change_in_expansions"] = float(change[~origin_recession].mean())
    numbers["projected_change_negative_share_in_recessions"] = float(
        (change[origin_recession] < 0).mean())
    numbers["projected_change_negative_share_in_expansions"] = float(
        (change[~origin_recession] < 0).mean())
    print(f"projected {STEPS}-month change of the factor (best run): "
          f"{numbers['projected_change_in_recessions']:+.2f} from recession months "
          f"({numbers['projected_change_negative_share_in_recessions']:.0%} negative), "
          f"{numbers['projected_change_in_expansions']:+.2f} from expansion months "
          f"({numbers['projected_change_negative_share_in_expansions']:.0%} negative)")

    state_by_variable = model.attention_contributions(growth)
    numbers["state_attention_in_recessions"] = \
        state_by_variable[in_recession].mean().round(4).to_dict()
    numbers["state_attention_in_expansions"] = \
        state_by_variable[~in_recession].mean().round(4).to_dict()
    by_lag = model.attention_contributions(growth, by="lag")
    numbers["state_attention_to_date_t_in_recessions"] = float(by_lag["t"][in_recession].mean())
    numbers["state_attention_to_date_t_in_expansions"] = \
        float(by_lag["t"][~in_recession].mean())
    measurement = model.attention_contributions(growth, attention="measurement", by="lag")
    numbers["measurement_attention_to_date_t_in_recessions"] = \
        float(measurement["t"][in_recession].mean())
    numbers["measurement_attention_to_date_t_in_expansions"] = \
        float(measurement["t"][~in_recession].mean())
    print("State attention by variable, recessions:", numbers["state_attention_in_recessions"])
    print("State attention by variable, expansions:", numbers["state_attention_in_expansions"])

    onsets = _onsets(starts)
    for name, (first, last) in EPISODES.items():
        span = (growth.index >= first) & (growth.index <= last)
        low = growth.index[span][np.nanargmin(np.where(span, index, np.inf)[span])]
        onset = onsets[name]
        origin = int(np.flatnonzero(projection.positions == growth.index.get_loc(onset))[0])
        numbers["episodes"][name] = {
            "trough": float(np.nanmin(index[span])), "trough_month": f"{low:%Y-%m}",
            "kalman_trough": float(kalman_index[span].min()),
            "first_recession_month": f"{onset:%Y-%m}",
            "factor_at_first_month": float(projection.factor[origin, 0]),
            "projected_change_from_first_month": float(change.iloc[origin]),
        }
        episode = numbers["episodes"][name]
        print(f"{name}: Transformer trough {episode['trough']:.2f} in {low:%Y-%m}, Kalman "
              f"trough {episode['kalman_trough']:.2f}; first recession month "
              f"{episode['first_recession_month']}: factor {episode['factor_at_first_month']:+.2f},"
              f" projected {STEPS}-month change {episode['projected_change_from_first_month']:+.2f}")

    _figures(args, model, growth, factor, runs, kalman_index, starts, ends, projection)
    if args.output:
        Path(args.output).write_text(json.dumps(numbers, indent=2))
    return model, factor, kalman_index, numbers


def _onsets(starts):
    """First recession month of each episode."""
    return {name: starts[(starts >= pd.Timestamp(first))
                         & (starts <= pd.Timestamp(last))].iloc[0]
            for name, (first, last) in EPISODES.items()}


def _figures(args, model, growth, factor, runs, kalman_index, starts, ends, projection):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(args.figures)
    folder.mkdir(parents=True, exist_ok=True)
    in_sample = starts >= growth.index[0]

    fig, axes = plt.subplots(2, 3, figsize=(13, 7), gridspec_kw={"height_ratios": [1, 1]})
    whole = fig.add_subplot(2, 1, 1)
    for ax in axes[0]:
        ax.remove()
    plot_factor_runs(factor, runs, reference=kalman_index, ax=whole,
                     labels=("Transformer index", "", "Kalman index"),
                     title="Coincident index, 1967-2025 (standard deviations)")
    shade_periods(whole, starts[in_sample], ends[in_sample])
    whole.set_ylim(-6, 4)
    whole.axvline(growth.index[model.n_train_], color="black", linestyle=":", linewidth=1)
    for ax, (name, (first, last)) in zip(axes[1], EPISODES.items()):
        span = (growth.index >= first) & (growth.index <= last)
        plot_factor_runs(factor[span], runs[span], reference=kalman_index[span], ax=ax,
                         labels=("Transformer", "", "Kalman"), title=f"{name} recession")
        keep = (ends >= growth.index[span][0]) & (starts <= growth.index[span][-1])
        shade_periods(ax, starts[keep], ends[keep])
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    fig.tight_layout()
    fig.savefig(folder / "ft_coincident_index.png", dpi=110)
    plt.close(fig)

    # Real-time projections around each recession, best run (Figures 34c, 36c, 38c).
    best = runs.iloc[:, model.best_run_]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, (name, (first, last)) in zip(axes, EPISODES.items()):
        span = (growth.index >= first) & (growth.index <= last)
        rows = np.isin(projection.positions, np.flatnonzero(span))
        part = type(projection)(**{key: value[rows] for key, value in projection.items()})
        plot_tentacles(part, index=growth.index, ax=ax,
                       title=f"{name}: real-time {STEPS}-month projections (best run)")
        ax.plot(growth.index[span], best[span], color="black", linewidth=1.5,
                label="factor estimate (best run)")
        keep = (ends >= growth.index[span][0]) & (starts <= growth.index[span][-1])
        shade_periods(ax, starts[keep], ends[keep])
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / "ft_coincident_tentacles.png", dpi=110)
    plt.close(fig)

    # State attention at the first month of each recession (Figures 35a, 37a, 39a).
    attention = model.get_attention(growth)["state"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, (name, onset) in zip(axes, _onsets(starts).items()):
        plot_attention_matrix(attention[growth.index.get_loc(onset)],
                              variable_names=growth.columns, ax=ax,
                              title=f"State attention, {onset:%Y-%m}")
    fig.tight_layout()
    fig.savefig(folder / "ft_coincident_attention.png", dpi=110)
    plt.close(fig)

    # Attention over the whole sample (Figures 51-53).
    panels = [
        (model.attention_contributions(growth), "State attention by variable"),
        (model.attention_contributions(growth, by="lag"), "State attention by lag"),
        (model.attention_contributions(growth, attention="measurement", by="lag"),
         "Measurement attention by factor lag"),
    ]
    fig, axes = plt.subplots(3, 1, figsize=(13, 9), sharex=True)
    for ax, (contributions, title) in zip(axes, panels):
        plot_attention_contributions(contributions, ax=ax, title=f"{title}, 1967-2025")
        shade_periods(ax, starts[in_sample], ends[in_sample])
        ax.legend(fontsize=7, ncol=9, loc="upper left")
    fig.tight_layout()
    fig.savefig(folder / "ft_coincident_attention_evolution.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
