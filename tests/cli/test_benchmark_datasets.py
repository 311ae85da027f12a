"""``skyield benchmark`` on several datasets: per-dataset sections and the summary across them."""

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from skyield.cli import main
from skyield.cli._benchmark import _models_for
from skyield.cli._intake import BUNDLED, load_data, resolve_datasets
from skyield.cli._leaderboard import (against_random_walk, cross_dataset_summary, leaderboard,
                                      summary_verdict)
from skyield.cli._models import resolve_models
from skyield.metrics import adjust_pvalues, diebold_mariano, root_mean_squared_error

SMALL = ["--dataset", "us-zero,eiopa", "--models", "random-walk,ns-var,ns-ar",
         "--start", "2016-01-01", "--test-start", "2022-01-01", "--horizons", "1,3",
         "--maturities", "1,2,5,10", "--families", "EU,GB,US", "--quiet"]


@pytest.fixture(scope="module")
def two_datasets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("datasets") / "out"
    assert main(["benchmark", *SMALL, "--output", str(folder)]) == 0
    return folder


def test_all_names_every_bundled_dataset_and_aliases_resolve(tmp_path):
    assert resolve_datasets("all") == ["us-zero", "treasury", "eiopa"]
    assert resolve_datasets("gsw_zero, eiopa,us-zero") == ["us-zero", "eiopa"]
    assert resolve_datasets("treasury_cmt") == ["treasury"]
    assert resolve_datasets(str(tmp_path / "curves.csv")) == [str(tmp_path / "curves.csv")]
    with pytest.raises(ValueError, match="'curves.csv' is not a bundled curve dataset"):
        resolve_datasets("us-zero,curves.csv")


def test_every_bundled_dataset_reads_with_its_defaults():
    parser = argparse.ArgumentParser()
    from skyield.cli._intake import add_data_arguments

    add_data_arguments(parser)
    args = parser.parse_args([])
    args.test_start = None
    for name in BUNDLED:
        data = load_data(args, name)
        assert not data.panel.isna().to_numpy().any(), name
        assert data.test_start == BUNDLED[name].test_start
    assert sorted(data.families) == sorted(["EU", "GB", "US", "JP", "CH", "CA", "AU", "NZ", "SE", "NO"])
    assert data.family == "EU" and data.curve.shape[1] == 9


def test_a_dataset_adds_and_leaves_out_default_models_with_reasons():
    class Data:
        name = "eiopa"

    defaults = resolve_models(None)
    models, left_out = _models_for(Data, defaults, chosen=False, full=False)
    names = [entry.name for entry in models]
    assert "yc-att" in names and not {"dns-kalman", "nnss", "factor-transformer"} & set(names)
    assert set(left_out) == {"dns-kalman", "nnss", "factor-transformer"}
    assert all("--full" in reason for reason in left_out.values())
    models, left_out = _models_for(Data, defaults, chosen=False, full=True)
    assert not left_out and {"nnss", "yc-att"} <= {entry.name for entry in models}
    chosen = resolve_models("random-walk,nnss")
    assert _models_for(Data, chosen, chosen=True, full=False) == (chosen, {})


def test_one_leaderboard_and_forecast_file_with_a_dataset_column(two_datasets):
    table = pd.read_csv(two_datasets / "leaderboard.csv")
    assert list(table.columns[:2]) == ["dataset", "model"]
    assert set(table["dataset"]) == {"us-zero", "eiopa"}
    forecasts = pd.read_csv(two_datasets / "forecasts.csv")
    eiopa = forecasts[forecasts["dataset"] == "eiopa"]
    assert set(eiopa["family"]) == {"EU", "GB", "US"}
    assert forecasts.loc[forecasts["dataset"] == "us-zero", "family"].isna().all()
    run = json.loads((two_datasets / "run.json").read_text())
    assert set(run["datasets"]) == {"us-zero", "eiopa"}
    assert run["datasets"]["eiopa"]["settings"]["families"] == "3: EU, GB, US"
    assert set(run["datasets"]["eiopa"]["models"]) == {"random-walk", "ns-var", "ns-ar"}


def test_the_summary_is_recomputed_from_the_forecasts_with_skyield_metrics(two_datasets):
    summary = pd.read_csv(two_datasets / "summary.csv")
    forecasts = pd.read_csv(two_datasets / "forecasts.csv")
    assert len(summary) == 2 * 2 * 2  # datasets x models other than the walk x horizons
    for row in summary.itertuples():
        rows = forecasts[(forecasts["dataset"] == row.dataset)
                         & (forecasts["horizon"] == row.horizon)]

        def per_origin(model):
            chosen = rows[rows["model"] == model]
            return chosen.groupby("origin").apply(
                lambda g: root_mean_squared_error(g["actual"], g["forecast"]),
                include_groups=False)

        ours, walk = rows[rows["model"] == row.model], rows[rows["model"] == "random-walk"]
        ratio = (root_mean_squared_error(ours["actual"], ours["forecast"])
                 / root_mean_squared_error(walk["actual"], walk["forecast"]))
        assert row.relative_rmse == pytest.approx(ratio, rel=1e-9)
        test = diebold_mariano(per_origin(row.model).to_numpy(),
                               per_origin("random-walk").to_numpy(), h=row.horizon)
        assert row.dm_pvalue == pytest.approx(test.pvalue, rel=1e-9)
    np.testing.assert_allclose(summary["holm_pvalue"], adjust_pvalues(summary["dm_pvalue"]))


def test_the_report_leads_with_the_summary_and_links_every_section(two_datasets):
    html = (two_datasets / "report.html").read_text()
    contents, summary = html.index("<h2>Contents</h2>"), html.index('id="summary"')
    sections = [html.index('<h2 id="dataset-us-zero">'), html.index('<h2 id="dataset-eiopa">')]
    assert contents < summary < sections[0] < sections[1]
    for anchor in ("summary", "dataset-us-zero", "dataset-eiopa-leaderboard",
                   "dataset-eiopa-figures", "dataset-eiopa-notes"):
        assert f'href="#{anchor}"' in html and f'id="{anchor}"' in html
    assert 'alt="RMSE relative to the random walk by curve"' in html
    assert html.count('alt="RMSE relative to the random walk by curve"') == 1  # eiopa only
    assert "Diebold-Mariano tests against the random walk" in html


def test_the_verdict_counts_tests_and_adjusts_for_them():
    rng = np.random.default_rng(0)
    results = []
    for model, scale in (("random-walk", 1.0), ("good", 0.5), ("bad", 2.0)):
        for origin in pd.date_range("2000-01-31", periods=60, freq="ME"):
            actual = rng.normal(size=4)
            results.append(pd.DataFrame({
                "model": model, "horizon": 1, "origin": origin, "series": range(4),
                "actual": actual, "forecast": actual + scale * rng.normal(size=4)}))
    table = leaderboard(pd.concat(results, ignore_index=True), {})
    summary = cross_dataset_summary({"one": table, "two": table})
    verdict = summary_verdict(summary)
    assert verdict[0].startswith("4 Diebold-Mariano tests")
    assert "good at horizon 1 on one" in verdict[1] and "bad" not in verdict[1]
    assert "good at horizon 1 on two" in verdict[2]
    assert verdict[3] == "Significantly worse: 2 of the 4 tests."


def test_one_rule_says_better_or_worse_than_the_random_walk():
    rows = pd.DataFrame({"dm_stat": [-2.5, 2.5, -0.5, np.nan, 3.0],
                         "dm_pvalue": [0.01, 0.02, 0.6, np.nan, 0.05]})
    assert against_random_walk(rows).tolist() == ["better", "worse", "", "", ""]
    assert against_random_walk(rows, level=0.1).tolist() == ["better", "worse", "", "", "worse"]


@pytest.mark.parametrize("arguments, message", [
    (["--dataset", "us-zero", "--families", "EU"], "--families applies to a multi-curve"),
    (["--dataset", "eiopa", "--families", "EU,XX"], "eiopa: "),
    (["--dataset", "treasury", "--maturities", "1,3,7"],
     "treasury has 26 missing value(s); the first on 2025-01-31, column 3."),
    (["--dataset", "us-zero,nowhere"], "'nowhere' is not a bundled curve dataset"),
])
def test_dataset_options_are_named(arguments, message, tmp_path, capsys):
    assert main(["benchmark", "--models", "random-walk", "--quiet", *arguments,
                 "--output", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_multi_curve_network_shows_its_attention_on_the_curve_shown(tmp_path,
                                                                        monkeypatch):
    import dataclasses

    from skyield.cli import _models
    from skyield.models import YieldCurveAttentionRegressor

    tiny = dataclasses.replace(_models.MODELS["yc-att"], build=lambda seed, device, m:
                               YieldCurveAttentionRegressor(units=2, epochs=2, residual=True,
                                                            maturities=m, random_state=seed))
    monkeypatch.setitem(_models.MODELS, "yc-att", tiny)
    folder = tmp_path / "out"
    assert main(["benchmark", "--dataset", "eiopa", "--families", "GB,EU",
                 "--models", "random-walk,yc-att", "--start", "2018-01-01",
                 "--test-start", "2023-01-01", "--horizons", "1,3", "--members", "2",
                 "--quiet", "--output", str(folder)]) == 0
    html = (folder / "report.html").read_text()
    assert "from the model fitted on the training span, on the EU curve" in html
    assert 'alt="forecast fan charts of the EU curve"' in html


def test_conformal_recalibrates_the_intervals_of_the_plain_run(two_datasets, tmp_path):
    from skyield.calibration import conformalize_backtest

    folder = tmp_path / "conformal"
    assert main(["benchmark", *SMALL, "--conformal", "--calibration-years", "0",
                 "--output", str(folder)]) == 0
    plain = pd.read_csv(two_datasets / "forecasts.csv", parse_dates=["origin", "target_date"])
    recalibrated = pd.read_csv(folder / "forecasts.csv", parse_dates=["origin", "target_date"])
    kept = [c for c in plain.columns if c not in ("lower", "upper", "fit_time")]
    pd.testing.assert_frame_equal(recalibrated[kept], plain[kept])
    for dataset, rows in plain.groupby("dataset"):
        rows = rows.drop(columns="dataset").dropna(axis=1, how="all")
        # The curves of a multi-curve panel are pooled; scores are scaled by the width.
        expected = conformalize_backtest(rows.drop(columns="family", errors="ignore"), 0.95,
                                         method="cqr-r", tracking_rate=0.1)
        got = recalibrated.loc[rows.index]
        np.testing.assert_allclose(got[["lower", "upper"]], expected[["lower", "upper"]])
        assert (got["conformal"] == expected["conformal"]).all()
        assert got["conformal"].any()
    table = pd.read_csv(folder / "leaderboard.csv")
    assert table["conformal_share"].between(0, 1).all()
    settings = json.loads((folder / "run.json").read_text())["settings"]
    assert settings["intervals"].startswith("recalibrated online")
    assert "quantile tracking at rate 0.1" in settings["intervals"]

    # --tracking-rate 0: the conformal quantile alone
    folder = tmp_path / "quantile-only"
    assert main(["benchmark", *SMALL, "--conformal", "--tracking-rate", "0",
                 "--calibration-years", "0", "--output", str(folder)]) == 0
    alone = pd.read_csv(folder / "forecasts.csv", parse_dates=["origin", "target_date"])
    for dataset, rows in plain.groupby("dataset"):
        rows = rows.drop(columns="dataset").dropna(axis=1, how="all")
        expected = conformalize_backtest(rows.drop(columns="family", errors="ignore"), 0.95,
                                         method="cqr-r")
        np.testing.assert_allclose(alone.loc[rows.index, ["lower", "upper"]],
                                   expected[["lower", "upper"]])
    assert "tracking" not in json.loads((folder / "run.json").read_text())[
        "settings"]["intervals"]


def test_a_calibration_span_gives_past_errors_and_is_not_scored(two_datasets, tmp_path):
    from skyield.calibration import conformalize_backtest

    # --conformal by default: forecasts from two years before the test start (2022-01),
    # whose errors are the first past errors, then dropped
    folder = tmp_path / "calibrated"
    assert main(["benchmark", *SMALL, "--conformal", "--output", str(folder)]) == 0
    got = pd.read_csv(folder / "forecasts.csv", parse_dates=["origin", "target_date"])
    plain = pd.read_csv(two_datasets / "forecasts.csv", parse_dates=["origin", "target_date"])
    assert got["origin"].min() == plain["origin"].min() == pd.Timestamp("2022-01-31")
    assert len(got) == len(plain)

    # the same as recalibrating the rows of a run from 2020-01 and keeping those from 2022
    early = tmp_path / "early"
    assert main(["benchmark", *SMALL[:-5], "--test-start", "2020-01-01", *SMALL[-5:],
                 "--output", str(early)]) == 0
    rows = pd.read_csv(early / "forecasts.csv", parse_dates=["origin", "target_date"])
    assert rows["origin"].min() == pd.Timestamp("2020-01-31")
    for dataset, part in rows.groupby("dataset"):
        part = part.drop(columns=["dataset", "family"], errors="ignore")
        part = part.dropna(axis=1, how="all")
        expected = conformalize_backtest(part, 0.95, method="cqr-r", tracking_rate=0.1)
        expected = expected[expected["origin"] >= "2022-01-01"]
        mine = got[got["dataset"] == dataset]
        np.testing.assert_allclose(mine[["forecast", "lower", "upper"]],
                                   expected[["forecast", "lower", "upper"]])
        # the calibration span's errors made a difference to the first test rows
        first = mine["origin"] == mine["origin"].min()
        assert mine.loc[first, "conformal"].all()

    # the same fits forecast the test span (refits every 12 months, 24 months earlier),
    # and only its rows are scored
    table = pd.read_csv(folder / "leaderboard.csv")
    np.testing.assert_allclose(table["rmse"], pd.read_csv(two_datasets / "leaderboard.csv")["rmse"])
    run = json.loads((folder / "run.json").read_text())
    assert "2 years before the test start, which are not scored" in \
        run["settings"]["intervals"]


def test_no_diebold_mariano_test_with_fewer_origins_than_the_horizon():
    rng = np.random.default_rng(1)
    rows = []
    for model in ("random-walk", "other"):
        for origin in pd.date_range("2024-01-31", periods=9, freq="ME"):
            actual = rng.normal(size=3)
            rows.append(pd.DataFrame({"model": model, "horizon": 12, "origin": origin,
                                      "series": range(3), "actual": actual,
                                      "forecast": actual + rng.normal(size=3)}))
    table = leaderboard(pd.concat(rows, ignore_index=True), {})
    assert table["dm_pvalue"].isna().all() and table["rmse"].notna().all()
    assert summary_verdict(cross_dataset_summary({"short": table}))[0].startswith(
        "0 Diebold-Mariano tests")


def test_warnings_of_the_tests_are_kept_with_the_others(tmp_path, capsys):
    # Few origins: some long-run variances of the Diebold-Mariano tests need the
    # Bartlett kernel, which the test warns about.
    folder = tmp_path / "out"
    assert main(["benchmark", "--dataset", "us-zero", "--models", "random-walk,ns-var,nss-var",
                 "--start", "2016-01-01", "--test-start", "2024-01-01", "--quiet",
                 "--output", str(folder)]) == 0
    warned = json.loads((folder / "run.json").read_text())["warnings"]
    assert any(line.startswith("us-zero: leaderboard warned") and "Bartlett" in line
               for line in warned)
    assert capsys.readouterr().err == ""
