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
training span only. As in the seed, the prior weight is 0.2 and the regularisation lighter
(dropout 0.1, weight decay 0.01). The linear-Gaussian Kalman index (the Transformer's
prior, estimated on the same training span) is drawn beside it, both in standard deviations
of the training span, with the NBER recessions shaded; the 1990, 2008 and 2020 recessions get a panel each, and the
attention patterns and real-time projections around the 2020 recession two more figures.

Usage::

    python examples/coincident_index.py                 # 4 runs, at most 120 epochs
    python examples/coincident_index.py --runs 20 --epochs 1000 --cycle-epochs 100
                                                        # the seed's 20 runs, Table 4
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from skyield.datasets import load_coincident_indicators, load_nber_recessions
from skyield.models import FactorTransformer
from skyield.plotting import (
    plot_attention_contributions,
    plot_attention_matrix,
    plot_factor_runs,
    plot_tentacles,
    shade_periods,
)

from skyield.baselines import KalmanFactorModel

NAMES = {"INDPRO": "Production", "CMRMTSPLx": "Sales", "W875RX1": "Income",
         "AWHMAN": "Hours"}
EPISODES = {"1990": ("1988-01", "1993-12"), "2008": ("2006-01", "2011-12"),
            "2020": ("2018-06", "2021-12")}


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
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--cycle-epochs", type=int, default=40)
    parser.add_argument("--prior-weight", type=float, default=0.2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--figures", default="docs/models/img",
                        help="folder for the figures (ft_coincident_*.png)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    growth = load_growth()
    print(f"{len(growth)} months {growth.index[0]:%Y-%m} to {growth.index[-1]:%Y-%m}; "
          f"dropped incomplete months: {growth.attrs['dropped_dates']}")

    started = time.perf_counter()
    model = FactorTransformer(prior_weight=args.prior_weight, dropout=0.1, weight_decay=0.01,
                              n_runs=args.runs, epochs=args.epochs,
                              cycle_epochs=args.cycle_epochs,
                              warmup_epochs=max(1, args.cycle_epochs // 10),
                              random_state=args.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(growth)
    seconds = time.perf_counter() - started
    n_train = model.n_train_
    print(f"training span {growth.index[0]:%Y-%m} to {growth.index[n_train - 1]:%Y-%m}, "
          f"validation to {growth.index[-1]:%Y-%m}; {seconds:.0f} s, epochs per run "
          f"{model.n_epochs_.tolist()}, best run {model.best_run_}")

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
    print(f"correlation with the Kalman index: "
          f"{np.corrcoef(index[finite], kalman_index[finite])[0, 1]:.3f}")
    print(f"mean index in NBER recessions {np.nanmean(index[in_recession]):.2f}, "
          f"in expansions {np.nanmean(index[~in_recession]):.2f} (Kalman: "
          f"{kalman_index[in_recession].mean():.2f}, {kalman_index[~in_recession].mean():.2f})")
    for name, (first, last) in EPISODES.items():
        span = (growth.index >= first) & (growth.index <= last)
        low = growth.index[span][np.nanargmin(np.where(span, index, np.inf)[span])]
        print(f"{name}: Transformer trough {np.nanmin(index[span]):.2f} in {low:%Y-%m}, "
              f"Kalman trough {kalman_index[span].min():.2f}")

    _figures(args, model, growth, factor, runs, kalman_index, starts, ends)
    return model, factor, kalman_index


def _figures(args, model, growth, factor, runs, kalman_index, starts, ends):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(args.figures)
    folder.mkdir(parents=True, exist_ok=True)

    fig, axes = plt.subplots(2, 3, figsize=(13, 7), gridspec_kw={"height_ratios": [1, 1]})
    whole = fig.add_subplot(2, 1, 1)
    for ax in axes[0]:
        ax.remove()
    plot_factor_runs(factor, runs, reference=kalman_index, ax=whole,
                     labels=("Transformer index", "", "Kalman index"),
                     title="Coincident index, 1967-2025 (standard deviations)")
    shade_periods(whole, starts[starts >= growth.index[0]], ends[starts >= growth.index[0]])
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

    covid = (growth.index >= "2018-06") & (growth.index <= "2021-12")
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    march = growth.index.get_loc(pd.Timestamp("2020-03-01"))
    plot_attention_matrix(model.get_attention(growth)["state"][march],
                          variable_names=growth.columns, ax=axes[0],
                          title="State attention, 2020-03")
    plot_attention_contributions(model.attention_contributions(growth)[covid], ax=axes[1],
                                 title="State attention by variable")
    plot_attention_contributions(
        model.attention_contributions(growth, attention="measurement", by="lag")[covid],
        ax=axes[2], title="Measurement attention by factor lag")
    for ax in axes[1:]:
        shade_periods(ax, [pd.Timestamp("2020-03-01")], [pd.Timestamp("2020-04-30")])
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    fig.tight_layout()
    fig.savefig(folder / "ft_coincident_attention.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4))
    origins = growth.index[covid]
    projection = model.project(growth, steps=6, origins=origins)
    plot_tentacles(projection, index=growth.index, ax=ax,
                   title="Real-time 6-month projections around 2020 (best run)")
    ax.plot(origins, runs[covid].iloc[:, model.best_run_], color="black", linewidth=1.5,
            label="factor estimate (best run)")
    shade_periods(ax, [pd.Timestamp("2020-03-01")], [pd.Timestamp("2020-04-30")])
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / "ft_coincident_tentacles.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
