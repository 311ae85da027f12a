"""The coverage-by-chance example on a small planted benchmark output folder."""

import json

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def example(load_example):
    return load_example("coverage_by_chance")


def _run_folder(folder, n_origins=150, horizons=(1, 3), seed=0):
    """Forecast rows of a random walk on two correlated series: one model with exact
    intervals, one whose intervals are half as wide as they should be."""
    rng = np.random.default_rng(seed)
    shocks = rng.multivariate_normal([0, 0], [[1.0, 0.7], [0.7, 1.0]],
                                     size=n_origins + max(horizons))
    level = np.vstack([np.zeros(2), np.cumsum(shocks, axis=0)])
    dates = pd.date_range("2000-01-31", periods=len(level), freq="ME")
    rows = []
    for h in horizons:
        for t in range(n_origins):
            for s in range(2):
                actual, forecast = level[t + h, s], level[t, s]
                for model, z in (("exact", 1.959964), ("narrow", 0.98)):
                    half = z * np.sqrt(h)
                    rows.append(dict(dataset="toy", model=model, horizon=h,
                                     origin=dates[t].date(), series=float(s + 1),
                                     target_date=dates[t + h].date(), forecast=forecast,
                                     actual=actual, error=forecast - actual,
                                     lower=forecast - half, upper=forecast + half))
    folder.mkdir()
    pd.DataFrame(rows).to_csv(folder / "forecasts.csv", index=False)
    (folder / "run.json").write_text(json.dumps({"settings": {"coverage": 0.95}}))
    return folder


def test_exact_intervals_pass_and_narrow_ones_fail(example, tmp_path):
    folder = _run_folder(tmp_path / "run")
    table = example.main([str(folder), "--draws", "1000", "--markdown",
                          str(tmp_path / "chance.md")])
    table = table.set_index(["model", "horizon"])
    assert list(table["origins"].unique()) == [150] and (table["series"] == 2).all()
    exact, narrow = table.loc["exact"], table.loc["narrow"]
    # Exact intervals cover about 95%, inside the simulated range; the narrow ones
    # (z = 0.98: 67% nominal) are far outside it.
    assert (exact["p_exact"] > 0.05).all() and (~exact["outside"]).all()
    assert (narrow["p_exact"] == 0).all() and narrow["outside"].all()
    assert ((exact["exact_low"] < exact["picp"]) & (exact["picp"] < exact["exact_high"])).all()
    # Overlapping 3-step errors widen the range of exact PICPs.
    width = table["exact_high"] - table["exact_low"]
    assert (width.xs(3, level="horizon") > width.xs(1, level="horizon")).all()
    counts = example.expected_outside(table.reset_index())
    assert counts.loc["all", "observed"] == 2
    assert counts.loc["all", "expected"] == pytest.approx(table["p_outside"].sum())
    assert "| toy | narrow | 1 |" in (tmp_path / "chance.md").read_text()
    # The tables written are kept unless --overwrite.
    with pytest.raises(SystemExit):
        example.main([str(folder), "--draws", "10", "--markdown", str(tmp_path / "chance.md")])
    assert "| toy | narrow | 1 |" in (tmp_path / "chance.md").read_text()
    example.main([str(folder), "--draws", "10", "--markdown", str(tmp_path / "chance.md"),
                  "--overwrite"])


def test_incomplete_rows_are_named(example, tmp_path):
    folder = _run_folder(tmp_path / "run", n_origins=40)
    rows = pd.read_csv(folder / "forecasts.csv")
    dropped = rows[(rows.model == "narrow") & (rows.horizon == 3)].index[5]
    rows.drop(index=dropped).to_csv(folder / "forecasts.csv", index=False)
    with pytest.raises(ValueError, match="toy, narrow, horizon 3: the errors are incomplete: "
                                         "origin 2000-03-31 lacks a series"):
        example.main([str(folder), "--draws", "10"])


def test_a_folder_without_forecasts_is_refused(example, tmp_path):
    with pytest.raises(FileNotFoundError, match="no forecasts.csv"):
        example.main([str(tmp_path), "--draws", "10"])
