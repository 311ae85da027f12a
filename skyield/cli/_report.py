"""Self-contained HTML report of a benchmark run (figures embedded as PNG data URIs)."""

import base64
import html
import io
from dataclasses import dataclass, field

import pandas as pd

from skyield.cli._leaderboard import BASELINE, against_random_walk
from skyield.plotting._backtest import plot_fan_chart, plot_rmse_by_maturity, plot_rmse_over_time


def _figure_to_data_uri(figure):
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _image(figure, alt):
    return f'<figure><img src="{_figure_to_data_uri(figure)}" alt="{html.escape(alt)}"></figure>'


@dataclass(frozen=True)
class DatasetSection:
    """What the report shows of one dataset.

    ``settings`` describe the data, ``table`` is its leaderboard and ``results`` its
    forecasts; ``summary`` holds one sentence per horizon, ``notes`` one per model,
    ``diagnostics`` ``(model, caption, figure)`` triples; ``family`` is the curve whose fan
    chart is drawn (multi-curve panels; None otherwise); ``chosen`` maps each tuned model
    to the settings it chose by training end (``--tune``).
    """

    name: str
    settings: dict
    table: pd.DataFrame
    results: pd.DataFrame
    summary: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    diagnostics: list = field(default_factory=list)
    family: str = None
    chosen: dict = field(default_factory=dict)


def _anchor(*parts):
    text = "-".join(str(part) for part in parts)
    return "".join(c if c.isalnum() else "-" for c in text.lower())


def _figures(section, horizons):
    import matplotlib.pyplot as plt

    results = section.results
    parts = []
    for horizon in horizons:
        figure, ax = plt.subplots(figsize=(7, 4))
        plot_rmse_by_maturity(results, horizon, ax=ax)
        parts.append(_image(figure, f"RMSE by maturity at horizon {horizon}"))
    figure, ax = plt.subplots(figsize=(9, 4))
    plot_rmse_over_time(results, horizons[0], ax=ax)
    parts.append(_image(figure, "rolling RMSE over time"))
    if "family" in results:
        parts.append(_image(_relative_rmse_by_family(results, horizons),
                            "RMSE relative to the random walk by curve"))
        results = results[results["family"] == section.family]
    models = list(results["model"].unique())
    maturities = sorted(results["series"].unique())
    shown = min(maturities, key=lambda m: abs(float(m) - 10.0))
    longest = max(horizons)
    curve = "" if section.family is None else f"{section.family} "
    figure, axes = plt.subplots(len(models), 1, sharex=True, sharey=True,
                                figsize=(9, 2.4 * len(models)), squeeze=False)
    for ax, model in zip(axes[:, 0], models):
        rows = results[results["model"] == model]
        has_band = "lower" in rows and rows["lower"].notna().all()
        plot_fan_chart(rows, shown, longest, ax=ax,
                       label=f"{model}: {curve}{shown:g}-year yield, {longest} steps ahead"
                             + ("" if has_band else " (point forecasts only)"))
    figure.tight_layout()
    parts.append(_image(figure, "forecast fan charts" + (
        "" if section.family is None else f" of the {section.family} curve")))
    return parts


def _relative_rmse_by_family(results, horizons):
    """One panel per horizon: every model's RMSE over the random walk's, curve by curve."""
    import matplotlib.pyplot as plt

    squared = results.assign(squared=results["error"] ** 2)
    rmse = squared.groupby(["horizon", "model", "family"])["squared"].mean() ** 0.5
    families = list(results["family"].unique())
    figure, axes = plt.subplots(len(horizons), 1, sharex=True,
                                figsize=(10, 2.6 * len(horizons)), squeeze=False)
    for ax, horizon in zip(axes[:, 0], horizons):
        reference = rmse.loc[(horizon, BASELINE)]
        for model in results["model"].unique():
            if model == BASELINE:
                continue
            ratio = rmse.loc[(horizon, model)].reindex(families) / reference.reindex(families)
            ax.plot(range(len(families)), ratio.to_numpy(), marker="o", linestyle="none",
                    label=model)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_ylabel(f"RMSE / random walk\nhorizon {horizon}")
    axes[-1, 0].set_xticks(range(len(families)), families, rotation=90)
    axes[0, 0].legend(fontsize="small", ncol=4, loc="upper left")
    figure.tight_layout()
    return figure


def _diagnostics_html(diagnostics, anchor):
    if not diagnostics:
        return ""
    parts = [f'<h3 id="{anchor}">Inside the models</h3>',
             "<p>Each figure shows what a model estimated in its first fit, on the "
             "training span (the dates before the test start); for a seed ensemble, what "
             "its first member estimated; for a multi-curve panel, the model of the curve "
             "shown.</p>"]
    for model, caption, figure in diagnostics:
        parts.append(f"<h4>{html.escape(model)}</h4><p>{html.escape(caption)}</p>")
        parts.append(_image(figure, f"{model}: {caption}"))
    return "".join(parts)


def _chosen_html(chosen, anchor):
    if not chosen:
        return ""
    parts = [f'<h3 id="{anchor}">Tuned settings</h3>',
             "<p>The settings each fit of a tuned model chose among its grid, by "
             "expanding-window cross-validation on its own training span (rows: the last "
             "training date of the fit).</p>"]
    for model, by_end in chosen.items():
        frame = pd.DataFrame.from_dict(by_end, orient="index")
        frame.index.name = "training end"
        parts.append(f"<h4>{html.escape(model)}</h4>" + frame.to_html(border=0))
    return "".join(parts)


def _settings_table(settings):
    return "<table>" + "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in settings.items()) + "</table>"


def _list(lines):
    return ("<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines)
            + "</ul>") if lines else ""


def _summary_table(summary, level=0.05):
    """The cross-dataset summary, one row per model and horizon, a column per dataset."""
    if summary.empty:
        return "<p>No model other than the random walk was run.</p>"

    def cell(row):
        if pd.isna(row["dm_pvalue"]):
            return f"{row['relative_rmse']:.3f}"
        mark = f" {row['verdict']}" if row["verdict"] else ""
        return (f"{row['relative_rmse']:.3f} (p {row['dm_pvalue']:.3f}, Holm "
                f"{row['holm_pvalue']:.2f}){mark}")

    summary = summary.assign(verdict=against_random_walk(summary, level))
    shown = summary.assign(cell=summary.apply(cell, axis=1)).pivot_table(
        index=["model", "horizon"], columns="dataset", values="cell", aggfunc="first",
        sort=False)
    shown = shown[list(summary["dataset"].unique())]
    return shown.to_html(na_rep="not run", border=0)


def write_report(path, *, title, settings, summary, verdict, sections, horizons,
                 warnings=()):
    """Write the benchmark report to ``path`` (one HTML file, no external resources).

    The report leads with the summary across datasets (``summary`` from
    :func:`skyield.cli._leaderboard.cross_dataset_summary`, ``verdict`` its sentences),
    then gives one section per dataset (:class:`DatasetSection`): settings, leaderboard,
    figures, the insides of the models and the model notes. A table of contents links
    every part; ``warnings`` lines are listed at the end so that no warning of a run goes
    unseen.
    """
    toc = ['<li><a href="#summary">Summary across datasets</a></li>']
    body = []
    for section in sections:
        anchor = _anchor("dataset", section.name)
        toc.append(f'<li><a href="#{anchor}">{html.escape(section.name)}</a><ul>'
                   f'<li><a href="#{anchor}-leaderboard">leaderboard</a></li>'
                   f'<li><a href="#{anchor}-figures">figures</a></li>'
                   + (f'<li><a href="#{anchor}-inside">inside the models</a></li>'
                      if section.diagnostics else "")
                   + (f'<li><a href="#{anchor}-tuned">tuned settings</a></li>'
                      if section.chosen else "")
                   + f'<li><a href="#{anchor}-notes">model notes</a></li></ul></li>')
        tables = []
        for horizon, group in section.table.groupby("horizon", sort=True):
            shown = group.drop(columns="horizon").set_index("model").sort_values("rmse")
            tables.append(f"<h4>Horizon {horizon}</h4>" + shown.to_html(
                float_format=lambda value: f"{value:.4f}", na_rep="-", border=0))
        body.append(
            f'<h2 id="{anchor}">{html.escape(section.name)}</h2>'
            + _settings_table(section.settings)
            + f'<h3 id="{anchor}-leaderboard">Leaderboard</h3>' + _list(section.summary)
            + "".join(tables)
            + f'<h3 id="{anchor}-figures">Figures</h3>'
            + "".join(_figures(section, horizons))
            + _diagnostics_html(section.diagnostics, f"{anchor}-inside")
            + _chosen_html(section.chosen, f"{anchor}-tuned")
            + f'<h3 id="{anchor}-notes">Model notes</h3>' + _list(section.notes))
    if warnings:
        toc.append('<li><a href="#warnings">Warnings</a></li>')
        body.append('<h2 id="warnings">Warnings</h2>' + _list(warnings))
    document = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ padding: 3px 10px; text-align: right; border-bottom: 1px solid #ddd; }}
figure {{ margin: 1em 0; }} img {{ max-width: 100%; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<nav><h2>Contents</h2><ul>{''.join(toc)}</ul></nav>
<h2>Settings</h2>{_settings_table(settings)}
<h2 id="summary">Summary across datasets</h2>
{_list(verdict)}
<p>Each cell: the model's RMSE over the random walk's on the same dataset and horizon
(below 1: more accurate), the p-value of the two-sided Diebold-Mariano test of equal
squared error against the random walk (Harvey-Leybourne-Newbold correction, on the
per-origin RMSE over series and curves), and that p-value adjusted by Holm's step-down
rule over every test of this table, which bounds the chance of any false rejection among
them; "better" or "worse" marks p &lt; 0.05 before the adjustment. With many tests, a few
unadjusted rejections are expected by chance alone.</p>
{_summary_table(summary)}
<p>In each dataset's leaderboard: RMSE and MAE in percentage points over every origin,
maturity (and curve) of the test span; PICP and MPIW of the central intervals, and their
coverage error (PICP minus the nominal coverage: positive when the intervals are too
wide, negative when they miss too often); the Diebold-Mariano test against the random
walk (negative statistic: smaller loss than the random walk); seconds is the wall-clock
time of the model's whole backtest (excluded from the determinism promise).</p>
{''.join(body)}
</body></html>
"""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(document)
    return path


def results_to_frames(results):
    """Forecast rows ready to write: dates as ISO strings, sorted by model and origin."""
    frame = results.copy()
    for column in ("origin", "target_date", "train_end"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column]).dt.strftime("%Y-%m-%d")
    return frame
