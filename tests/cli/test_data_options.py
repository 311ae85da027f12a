"""The data options and failures of ``skyield benchmark``."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from skyield.cli import _models, main


# -- the command's options and failures --------------------------------------------------

def _panel(n_dates=96, start="1995-01-31", labels=("1Y", "5Y", "10Y")):
    rng = np.random.default_rng(0)
    index = pd.date_range(start, periods=n_dates, freq="ME", name="date")
    values = 4 + np.linspace(0, 1, len(labels)) + 0.1 * rng.normal(
        size=(n_dates, len(labels))).cumsum(axis=0)
    return pd.DataFrame(values, index=index, columns=list(labels))


def _run(path, tmp_path, *arguments, output="out"):
    return main(["benchmark", "--dataset", str(path), "--models", "random-walk",
                 "--test-start", "2000-01-01", "--horizons", "1", "--quiet",
                 "--output", str(tmp_path / output), *arguments])


def test_debug_shows_the_traceback_and_other_failures_one_line(tmp_path, capsys, monkeypatch):
    path = tmp_path / "curves.csv"
    _panel().to_csv(path)

    def broken(*args, **kwargs):
        raise KeyError("no such column")

    monkeypatch.setattr("skyield.cli._benchmark.leaderboard", broken)
    assert _run(path, tmp_path) == 2
    error = capsys.readouterr().err
    assert error == ("skyield benchmark: error: KeyError: 'no such column' (run with --debug "
                     "for the traceback)\n")
    with pytest.raises(KeyError):
        _run(path, tmp_path, "--debug")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("arguments, message", [
    (["--date-format", "%d/%m/%Y"], "--date-format applies to a CSV file"),
    (["--freq", "annual"], "--freq annual: us-zero (gsw_zero) comes daily, weekly"),
    (["--start", "soon"], "--start='soon' is not a date: only ISO dates are read"),
    (["--start", "01/02/2005"], "--start='01/02/2005' is not a date: it reads both as "
                                "2005-02-01 (day first) and 2005-01-02 (month first)"),
    (["--end", "13/02/2020"], "--end='13/02/2020' is not a date: only ISO dates are read"),
    (["--test-start", "01/02/2005"], "--test-start='01/02/2005' is not a date: it reads both "
                                     "as 2005-02-01 (day first) and 2005-01-02"),
    (["--maturities", "1,,10"], "--maturities '1,,10' has an empty item (position 2)"),
    (["--dataset", "us-zero,", "--maturities", "1,10"],
     "--dataset 'us-zero,' has an empty item (position 2)"),
    (["--dataset", "eiopa", "--families", "EU,,GB"],
     "--families 'EU,,GB' has an empty item (position 2)"),
    (["--test-start", "1960-01-01"], "--test-start 1960-01-01 leaves no training dates"),
    (["--models", "ns-ar", "--allow-missing"], "--allow-missing: ns-ar cannot handle"),
])
def test_data_options_are_named(arguments, message, tmp_path, capsys):
    assert main(["benchmark", "--dataset", "us-zero", "--quiet", "--output",
                 str(tmp_path / "out"), *arguments]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_units_decimal_multiplies_by_100_and_says_so(tmp_path):
    path = tmp_path / "curves.csv"
    (_panel() / 100).to_csv(path, float_format="%.6f")
    assert _run(path, tmp_path, "--units", "decimal") == 0
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    (dataset,) = run["datasets"].values()  # a CSV file: the only dataset of the run
    assert dataset["settings"]["units"] == "decimal, multiplied by 100" and not run["warnings"]
    forecasts = pd.read_csv(tmp_path / "out" / "forecasts.csv")
    assert forecasts["actual"].abs().max() > 1


def test_allow_missing_runs_a_model_that_handles_missing_values_across_a_gap(
        tmp_path, monkeypatch):
    from skyield.models import NeuralStateSpaceModel

    tiny = dataclasses.replace(_models.MODELS["nnss"], build=lambda seed, device, m:
                               NeuralStateSpaceModel(n_factors=2, hidden_layers=(4,),
                                                     maxiter=3, pretrain_maxiter=3,
                                                     maturities=m, random_state=seed))
    monkeypatch.setitem(_models.MODELS, "nnss", tiny)
    panel = _panel(labels=("1Y", "2Y", "5Y", "7Y", "10Y"))
    panel.iloc[10, 1] = np.nan
    path = tmp_path / "curves.csv"
    panel.drop(panel.index[20:26]).to_csv(path)
    arguments = ["--dataset", str(path), "--models", "nnss", "--test-start", "2000-01-01",
                 "--horizons", "1", "--refit", "0", "--quiet"]
    assert main(["benchmark", *arguments, "--output", str(tmp_path / "refused")]) == 2
    assert main(["benchmark", *arguments, "--allow-missing", "--output",
                 str(tmp_path / "out")]) == 0
    (dataset,) = json.loads((tmp_path / "out" / "run.json").read_text())["datasets"].values()
    settings = dataset["settings"]
    assert settings["rows"] == 96 and settings["missing values kept"] == 6 * 5 + 1
