"""Draw the figures of the dataset pages (docs/datasets/img/*.png) from the bundled data.

Run from anywhere with the package installed::

    python docs/scripts/make_dataset_figures.py [--out DIR]

Every figure is drawn through the public loaders of ``skyield.datasets``, so the pages show
exactly what the loaders return.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from skyield.datasets import (  # noqa: E402
    load_coincident_indicators,
    load_eiopa_curves,
    load_gsw_zero,
    load_international_curves,
    load_nber_recessions,
    load_treasury_cmt,
)

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "datasets" / "img"
DPI = 100


def shade_recessions(ax, recessions, label=True):
    """Shade each NBER recession: from the month after the peak through the trough month."""
    for i, (peak, trough) in enumerate(recessions.itertuples(index=False)):
        ax.axvspan(peak + pd.offsets.MonthBegin(1), trough + pd.offsets.MonthBegin(1),
                   color="0.85", zorder=0, label="NBER recession" if label and i == 0 else None)


def runs(present):
    """(first, last) dates of each run of consecutive True values in a boolean Series."""
    flags = np.concatenate([[False], present.to_numpy(), [False]]).astype(int)
    starts = np.flatnonzero(np.diff(flags) == 1)
    ends = np.flatnonzero(np.diff(flags) == -1) - 1
    return list(zip(present.index[starts], present.index[ends]))


def treasury_cmt(out, recessions):
    monthly = load_treasury_cmt("monthly", maturities=["3M", "2Y", "10Y", "30Y"])
    daily = load_treasury_cmt()
    observed = load_treasury_cmt(observed_only=True)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 7.5), height_ratios=[3, 2], constrained_layout=True
    )
    for column, label in zip(monthly.columns, monthly.attrs["labels"]):
        top.plot(monthly.index, monthly[column], lw=1.0, label=label)
    shade_recessions(top, recessions)
    top.set_xlim(monthly.index[0], monthly.index[-1])
    top.set_ylabel("par yield (percent)")
    top.set_title("U.S. Treasury CMT yields, month ends 1962-01 .. 2026-01")
    top.legend(ncol=5, loc="upper right", frameon=False)

    # Availability: observed days in colour, FRED-only days (blanked by observed_only) grey.
    for row, column in enumerate(daily.columns):
        for frame, colour in ((daily, "0.6"), (observed, "C0")):
            for first, last in runs(frame[column].notna()):
                bottom.hlines(row, first, last, lw=6, color=colour)
    bottom.set_yticks(range(len(daily.columns)), daily.attrs["labels"])
    bottom.set_xlim(top.get_xlim())
    bottom.set_ylim(-0.7, len(daily.columns) - 0.3)
    bottom.set_title("Days with a value (grey: FRED only, blanked by observed_only=True)")
    fig.savefig(out / "treasury_cmt.png", dpi=DPI)
    plt.close(fig)


def gsw_zero(out, recessions):
    monthly = load_gsw_zero("monthly")
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(11, 4.5), width_ratios=[3, 2], constrained_layout=True
    )
    for years in (1.0, 5.0, 10.0, 30.0):
        left.plot(monthly.index, monthly[years], lw=1.0, label=f"{years:.0f}Y")
    shade_recessions(left, recessions, label=False)
    left.set_xlim(monthly.index[0], monthly.index[-1])
    left.set_ylabel("zero-coupon yield (percent, cont. comp.)")
    left.set_title("GSW zero-coupon yields, month ends 1961-06 .. 2025-09")
    left.legend(ncol=4, frameon=False)
    for date in ("1981-09-30", "2000-12-29", "2013-06-28", "2020-08-31", "2025-09-30"):
        curve = monthly.loc[date]
        right.plot(curve.index, curve.to_numpy(), marker=".", ms=3, lw=1.0, label=date[:7])
    right.set_xlabel("maturity (years)")
    right.set_title("Curves on five month ends")
    right.legend(frameon=False, fontsize="small")
    fig.savefig(out / "gsw_zero.png", dpi=DPI)
    plt.close(fig)


def international_curves(out):
    curves = load_international_curves()
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5), sharex=True, sharey=True,
                             constrained_layout=True)
    for ax, family in zip(axes.flat, curves.attrs["families"]):
        block = curves.loc[family]
        # Reindexed on a full monthly calendar so that missing months show as breaks.
        calendar = pd.date_range(block.index[0], block.index[-1], freq="ME")
        block = block.reindex(calendar)
        for years in (2.0, 5.0, 10.0, 20.0):
            if years in curves.attrs["grids"][family]:
                ax.plot(block.index, block[years], lw=0.9, label=f"{years:.0f}Y",
                        color=f"C{[2.0, 5.0, 10.0, 20.0].index(years)}")
        kind = curves.attrs["curve_types"][family]
        ax.set_title(f"{family} ({kind})")
        ax.axhline(0.0, color="0.5", lw=0.5)
    axes[0, 0].set_ylabel("yield (percent)")
    axes[1, 0].set_ylabel("yield (percent)")
    handles, labels = axes.flat[-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle("Month-end yields by family: 2, 5, 10 and 20 years where published")
    fig.savefig(out / "international_curves.png", dpi=DPI)
    plt.close(fig)


def eiopa_curves(out):
    curves = load_eiopa_curves()
    shown = ["EU", "GB", "US", "CH", "JP", "TR", "BR", "ZA"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    for family in curves.attrs["families"]:
        block = curves.loc[family]
        highlighted = family in shown
        left.plot(block.index, block[10.0], lw=1.1 if highlighted else 0.5,
                  color=f"C{shown.index(family)}" if highlighted else "0.75",
                  label=family if highlighted else None, zorder=2 if highlighted else 1)
    left.axvspan(pd.Timestamp("2015-12-31"), pd.Timestamp("2021-12-31"), color="0.93",
                 zorder=0, label="seed 001 sample")
    left.axhline(0.0, color="0.5", lw=0.5)
    left.set_ylabel("spot rate (percent, annual compounding)")
    left.set_title("10-year spot rate, 33 distinct curves (grey: the others)")
    left.legend(frameon=False, ncol=3, fontsize="small")
    date = pd.Timestamp("2020-12-31")
    for family in shown:
        right.plot(curves.columns, curves.loc[(family, date)], lw=1.1,
                   color=f"C{shown.index(family)}", label=family)
    right.set_xscale("log")
    right.set_xticks([1, 2, 5, 10, 20, 50, 150], ["1", "2", "5", "10", "20", "50", "150"])
    right.set_xlabel("maturity (years, log scale)")
    right.set_title("Curves on 2020-12-31 (seed 001's t0), 1 .. 150 years")
    right.axhline(0.0, color="0.5", lw=0.5)
    fig.suptitle("EIOPA risk-free spot curves, monthly releases 2014-12 .. 2026-06")
    fig.savefig(out / "eiopa_curves.png", dpi=DPI)
    plt.close(fig)


def coincident_indicators(out, recessions):
    x = load_coincident_indicators(transform=True, incomplete="drop_edges")
    labels = {
        "INDPRO": "INDPRO: industrial production, Δlog",
        "CMRMTSPLx": "CMRMTSPLx: real manufacturing and trade sales, Δlog",
        "W875RX1": "W875RX1: real personal income ex transfers, Δlog",
        "AWHMAN": "AWHMAN: average weekly hours, manufacturing (level)",
    }
    fig, axes = plt.subplots(4, 1, figsize=(10, 8.5), sharex=True, constrained_layout=True)
    for ax, column in zip(axes, x.columns):
        ax.plot(x.index, x[column], lw=0.7, color="C0")
        shade_recessions(ax, recessions, label=False)
        ax.set_title(labels[column], loc="left", fontsize="medium")
    axes[-1].set_xlim(x.index[0], x.index[-1])
    fig.suptitle("FRED-MD coincident indicators, transformed by tcode, 1959-02 .. 2025-03 "
                 "(grey: NBER recessions)")
    fig.savefig(out / "coincident_indicators.png", dpi=DPI)
    plt.close(fig)


def nber_recessions(out, recessions):
    levels = load_coincident_indicators()
    fig, ax = plt.subplots(figsize=(10, 3.8), constrained_layout=True)
    ax.plot(levels.index, levels["INDPRO"], lw=1.0, label="INDPRO (2017=100, log scale)")
    ax.set_yscale("log")
    ax.set_yticks([25, 50, 100], ["25", "50", "100"])
    ax.minorticks_off()
    shade_recessions(ax, recessions)
    ax.set_xlim(pd.Timestamp("1948-01-01"), levels.index[-1])
    ax.set_title("NBER recessions (month after peak through trough) and industrial production")
    ax.legend(frameon=False, loc="upper left")
    fig.savefig(out / "nber_recessions.png", dpi=DPI)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"folder for the PNG files (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    recessions = load_nber_recessions()
    treasury_cmt(args.out, recessions)
    gsw_zero(args.out, recessions)
    international_curves(args.out)
    eiopa_curves(args.out)
    coincident_indicators(args.out, recessions)
    nber_recessions(args.out, recessions)
    for path in sorted(args.out.glob("*.png")):
        print(path)


if __name__ == "__main__":
    main()
