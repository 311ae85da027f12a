import pandas as pd
import pytest

from skyield.cli import main

FAST = ["--dataset", "us-zero", "--models", "random-walk,ns-ar,nss-var", "--start", "2005-01-01", "--test-start",
        "2019-01-01", "--horizons", "1,3", "--quiet"]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench") / "out"
    assert main(["benchmark", *FAST, "--output", str(folder)]) == 0
    return folder


def test_writes_leaderboard_forecasts_and_a_self_contained_report(first_run):
    table = pd.read_csv(first_run / "leaderboard.csv")
    assert set(table["model"]) == {"random-walk", "ns-ar", "nss-var"}
    assert sorted(table["horizon"].unique()) == [1, 3]
    assert (table["rmse"] > 0).all() and (table["picp"].between(0, 1)).all()
    # The random walk is the reference of the Diebold-Mariano test.
    assert table.loc[table["model"] == "random-walk", "dm_pvalue"].isna().all()
    assert table.loc[table["model"] != "random-walk", "dm_pvalue"].between(0, 1).all()
    forecasts = pd.read_csv(first_run / "forecasts.csv")
    assert {"model", "origin", "horizon", "target_date", "series", "forecast", "actual",
            "lower", "upper"} <= set(forecasts.columns)
    assert (forecasts["origin"] >= "2019-01-01").all()
    parquet = pd.read_parquet(first_run / "forecasts.parquet")
    pd.testing.assert_frame_equal(parquet, forecasts, check_dtype=False)
    html = (first_run / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 3
    assert "src=\"http" not in html


def test_forecast_errors_match_the_bundled_data(first_run):
    from skyield.datasets import load_gsw_zero

    forecasts = pd.read_csv(first_run / "forecasts.csv")
    panel = load_gsw_zero("monthly", start="2005-01-01")
    row = forecasts[(forecasts["model"] == "random-walk") & (forecasts["horizon"] == 3)].iloc[5]
    assert row["actual"] == pytest.approx(panel.loc[row["target_date"], float(row["series"])])
    assert row["forecast"] == pytest.approx(panel.loc[row["origin"], float(row["series"])])


def test_same_seed_gives_the_same_leaderboard(first_run, tmp_path):
    assert main(["benchmark", *FAST, "--output", str(tmp_path / "again")]) == 0
    first = pd.read_csv(first_run / "leaderboard.csv").drop(columns="seconds")
    again = pd.read_csv(tmp_path / "again" / "leaderboard.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(first, again)


def test_never_overwrites_an_output_folder_silently(first_run, capsys):
    before = (first_run / "leaderboard.csv").read_bytes()
    assert main(["benchmark", *FAST, "--output", str(first_run)]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert (first_run / "leaderboard.csv").read_bytes() == before


def test_user_csv_is_validated(tmp_path, capsys):
    bad = tmp_path / "curves.csv"
    bad.write_text("date,1Y,10Y\n2020-01-31,1.0,2.0\n2020-01-31,1.1,2.1\n")
    assert main(["benchmark", "--dataset", str(bad), "--maturities", "all", "--quiet",
                 "--output", str(tmp_path / "out")]) == 2
    assert "duplicated dates: 2020-01-31" in capsys.readouterr().err


def test_user_csv_runs(tmp_path):
    panel = pd.DataFrame(
        {"1Y": [1.0 + 0.01 * i for i in range(60)], "2Y": [1.5 + 0.01 * (i % 3) for i in range(60)],
         "5Y": [2.0 + 0.02 * (i % 7) for i in range(60)],
         "10Y": [3.0 - 0.01 * (i % 5) for i in range(60)]},
        index=pd.date_range("2015-01-31", periods=60, freq="ME").rename("date"))
    path = tmp_path / "mine.csv"
    panel.to_csv(path)
    assert main(["benchmark", "--dataset", str(path), "--maturities", "all", "--start", "2015",
                 "--test-start", "2018-06-30", "--horizons", "1", "--models", "random-walk,ns-var",
                 "--quiet", "--output", str(tmp_path / "out")]) == 0
    assert len(pd.read_csv(tmp_path / "out" / "leaderboard.csv")) == 2


@pytest.mark.parametrize("arguments, message", [
    (["--models", "oracle"], "unknown model 'oracle'"),
    (["--horizons", "one"], "--horizons must be a comma-separated list"),
    (["--horizons", "1,,12"], "--horizons '1,,12' has an empty item (position 2)"),
    (["--horizons", "1,6,"], "--horizons '1,6,' has an empty item (position 3)"),
    (["--horizons", " "], "error: --horizons is empty\n"),
    (["--coverage", "1.5"], "--coverage must lie in"),
    (["--dataset", "nowhere.csv"], "neither a bundled curve dataset"),
    (["--horizons", "6,1"], "--horizons must be positive, strictly increasing"),
    (["--window", "0"], "--window must be a positive number of dates"),
    (["--members", "0"], "--members must be a positive number of members"),
    (["--conformal", "--tracking-rate", "-0.1"],
     "--tracking-rate must be 0 (no tracking) or positive"),
    (["--conformal", "--tracking-rate", "nan"],
     "--tracking-rate must be 0 (no tracking) or positive"),
    (["--tracking-rate", "0.1"], "--tracking-rate sets the quantile tracking of --conformal; "
                                 "give --conformal too"),
    (["--calibration-years", "2"], "--calibration-years sets the span of past errors of "
                                   "--conformal; give --conformal too"),
    (["--conformal", "--calibration-years", "-1"], "--calibration-years must be 0 (none)"),
    (["--conformal", "--dataset", "us-zero", "--calibration-years", "40"],
     "--calibration-years 40 starts the forecasts on 1960-01-01, which leaves no training"),
    (["--n-jobs", "0"], "--n-jobs must be a positive number"),
    (["--device", "tpu"], "--device: device must be 'cpu', 'cuda'"),
])
def test_bad_arguments_are_named(arguments, message, tmp_path, capsys):
    assert main(["benchmark", *arguments, "--output", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing is created for a run that fails early


def test_summary_names_the_best_model_and_the_significant_ones():
    from skyield.cli._leaderboard import summary_lines

    table = pd.DataFrame({
        "model": ["random-walk", "good", "bad", "random-walk", "good", "bad"],
        "horizon": [1, 1, 1, 6, 6, 6],
        "rmse": [0.30, 0.25, 0.40, 0.70, 0.72, 0.80],
        "dm_stat": [float("nan"), -2.5, 3.0, float("nan"), 0.5, 1.0],
        "dm_pvalue": [float("nan"), 0.01, 0.003, float("nan"), 0.6, 0.3],
    })
    first, second = summary_lines(table)
    assert first == ("horizon 1: lowest RMSE good (0.2500, random walk 0.3000, "
                     "Diebold-Mariano p = 0.010). Better than the random walk at the 5% "
                     "level: good; worse: bad.")
    assert second == ("horizon 6: lowest RMSE random-walk (0.7000). Better than the random "
                      "walk at the 5% level: none; worse: none.")


def test_report_and_output_open_with_the_summary(first_run):
    html = (first_run / "report.html").read_text()
    assert "horizon 1: lowest RMSE" in html and "horizon 3: lowest RMSE" in html
