"""The benchmark's forecast combination: a row like any model's, its weights recorded."""

import json

import numpy as np
import pandas as pd

from skyield.cli import main


def test_combination_row_with_intervals_and_weights_per_fit(tmp_path):
    folder = tmp_path / "out"
    assert main(["benchmark", "--dataset", "us-zero", "--models",
                 "random-walk,ns-var,combination", "--start",
                 "2010-01-01", "--test-start", "2023-01-01", "--horizons", "1,3",
                 "--quiet", "--output", str(folder)]) == 0
    table = pd.read_csv(folder / "leaderboard.csv")
    rows = table[table["model"] == "combination"]
    assert list(rows["horizon"]) == [1, 3]
    assert rows["picp"].between(0, 1).all() and rows["dm_pvalue"].between(0, 1).all()
    weights = json.loads((folder / "run.json").read_text())["datasets"]["us-zero"][
        "models"]["combination"]["weights"]
    # One set of weights per fit (2023-01 to 2025-09, refits every 12 dates), learned on
    # the training span before it: non-negative, summing to one at every horizon.
    assert [end[:7] for end in weights] == ["2022-12", "2023-12", "2024-12"]
    for by_horizon in weights.values():
        assert set(by_horizon) == {"1", "3"}
        for members in by_horizon.values():
            assert set(members) == {"ns-ar", "ns-var", "nss-var"}
            assert min(members.values()) >= 0
            assert np.isclose(sum(members.values()), 1)
    assert "forecast combination of ns-ar" in (folder / "report.html").read_text()


def test_on_a_multi_curve_panel_the_weights_are_those_of_the_curve_named(tmp_path):
    folder = tmp_path / "out"
    assert main(["benchmark", "--dataset", "eiopa", "--families", "EU,GB", "--models",
                 "random-walk,combination", "--start", "2016-01-01", "--test-start",
                 "2023-01-01", "--horizons", "1", "--quiet", "--output", str(folder)]) == 0
    record = json.loads((folder / "run.json").read_text())["datasets"]["eiopa"]["models"]
    assert record["combination"]["curve"] == "EU"
    assert [end[:7] for end in record["combination"]["weights"]] == ["2022-12", "2023-12"]
    assert "curve" not in record["random-walk"]
