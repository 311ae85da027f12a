"""Self-contained HTML report of a benchmark run (figures embedded as PNG data URIs)."""

import base64
import html
import io

import pandas as pd

from skyield.plotting._backtest import plot_fan_chart, plot_rmse_by_maturity, plot_rmse_over_time


def _figure_to_data_uri(figure):
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _image(figure, alt):
    return f'<figure><img src="{_figure_to_data_uri(figure)}" alt="{html.escape(alt)}"></figure>'


def _figures(results, horizons):
    import matplotlib.pyplot as plt

    parts = []
    for horizon in horizons:
        figure, ax = plt.subplots(figsize=(7, 4))
        plot_rmse_by_maturity(results, horizon, ax=ax)
        parts.append(_image(figure, f"RMSE by maturity at horizon {horizon}"))
    figure, ax = plt.subplots(figsize=(9, 4))
    plot_rmse_over_time(results, horizons[0], ax=ax)
    parts.append(_image(figure, "rolling RMSE over time"))
    models = list(results["model"].unique())
    maturities = sorted(results["series"].unique())
    shown = min(maturities, key=lambda m: abs(float(m) - 10.0))
    longest = max(horizons)
    figure, axes = plt.subplots(len(models), 1, sharex=True, sharey=True,
                                figsize=(9, 2.4 * len(models)), squeeze=False)
    for ax, model in zip(axes[:, 0], models):
        rows = results[results["model"] == model]
        has_band = "lower" in rows and rows["lower"].notna().all()
        plot_fan_chart(rows, shown, longest, ax=ax,
                       label=f"{model}: {shown:g}-year yield, {longest} steps ahead"
                             + ("" if has_band else " (point forecasts only)"))
    figure.tight_layout()
    parts.append(_image(figure, "forecast fan charts"))
    return parts


def _diagnostics_html(diagnostics):
    if not diagnostics:
        return ""
    parts = ["<h2>Inside the models</h2>",
             "<p>Each figure shows what a model estimated in its first fit, on the "
             "training span (the dates before the test start); for a seed ensemble, what "
             "its first member estimated.</p>"]
    for model, caption, figure in diagnostics:
        parts.append(f"<h3>{html.escape(model)}</h3><p>{html.escape(caption)}</p>")
        parts.append(_image(figure, f"{model}: {caption}"))
    return "".join(parts)


def _chosen_html(chosen):
    if not chosen:
        return ""
    parts = ["<h2>Tuned settings</h2>",
             "<p>The settings each fit of a tuned model chose among its grid, by "
             "expanding-window cross-validation on its own training span (rows: the last "
             "training date of the fit).</p>"]
    for model, by_end in chosen.items():
        frame = pd.DataFrame.from_dict(by_end, orient="index")
        frame.index.name = "training end"
        parts.append(f"<h3>{html.escape(model)}</h3>" + frame.to_html(border=0))
    return "".join(parts)


def write_report(path, *, title, settings, table, results, horizons, notes=(),
                 diagnostics=(), warnings=(), summary=(), chosen=None):
    """Write the benchmark report to ``path`` (one HTML file, no external resources).

    ``diagnostics`` holds ``(model, caption, figure)`` triples drawn after the backtest
    figures; ``warnings`` lines are listed so that no warning of a run goes unseen;
    ``chosen`` maps each tuned model to the settings it chose by training end.
    """
    settings_rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in settings.items())
    tables = []
    for horizon, group in table.groupby("horizon", sort=True):
        shown = group.drop(columns="horizon").set_index("model").sort_values("rmse")
        tables.append(f"<h3>Horizon {horizon}</h3>" + shown.to_html(
            float_format=lambda value: f"{value:.4f}", na_rep="-", border=0))
    summary_html = ("<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in summary)
                    + "</ul>") if summary else ""
    notes_html = "".join(f"<li>{html.escape(note)}</li>" for note in notes)
    warnings_html = ("<h2>Warnings</h2><ul>" + "".join(
        f"<li>{html.escape(line)}</li>" for line in warnings) + "</ul>") if warnings else ""
    document = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; max-width: 1000px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ padding: 3px 10px; text-align: right; border-bottom: 1px solid #ddd; }}
figure {{ margin: 1em 0; }} img {{ max-width: 100%; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<h2>Settings</h2><table>{settings_rows}</table>
<h2>Leaderboard</h2>
{summary_html}
<p>RMSE and MAE in percentage points over every origin and maturity of the test span;
PICP and MPIW of the central intervals, and their coverage error (PICP minus the
nominal coverage: positive when the intervals are too wide, negative when they miss
too often); Diebold-Mariano test of equal squared error against
the random walk (negative statistic: smaller loss than the random walk); seconds is the
wall-clock time of the model's whole backtest (excluded from the determinism promise).</p>
{''.join(tables)}
<h2>Figures</h2>
{''.join(_figures(results, horizons))}
{_diagnostics_html(diagnostics)}
{_chosen_html(chosen)}
<h2>Notes</h2><ul>{notes_html}</ul>
{warnings_html}
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
