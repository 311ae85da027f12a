"""The coincident-index example (examples/coincident_index.py) runs end to end, CI size."""

import json

import numpy as np
import pytest
import torch

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def example(load_example):
    return load_example("coincident_index")


def test_quick_run(example, tmp_path):
    threads = torch.get_num_threads()
    try:
        model, factor, kalman_index, numbers = example.main(
            ["--quick", "--figures", str(tmp_path), "--output", str(tmp_path / "n.json")])
    finally:
        torch.set_num_threads(threads)
    for name in ("index", "tentacles", "attention", "attention_evolution"):
        assert (tmp_path / f"ft_coincident_{name}.png").stat().st_size > 0, name
    assert json.loads((tmp_path / "n.json").read_text())["best_run"] == model.best_run_
    # The seed's sample: 1967-01 on, the last (incomplete) month dropped.
    assert str(factor.index[0].date()) == "1967-01-01"
    assert model.n_runs == 2 and len(numbers["epochs_per_run"]) == 2
    assert np.isfinite(numbers["correlation_with_kalman"])
    assert set(numbers["episodes"]) == {"1990", "2008", "2020"}
    onsets = {name: e["first_recession_month"] for name, e in numbers["episodes"].items()}
    assert onsets == {"1990": "1990-08", "2008": "2008-01", "2020": "2020-03"}
    for shares in (numbers["state_attention_in_recessions"],
                   numbers["state_attention_in_expansions"]):
        assert list(shares) == ["Production", "Sales", "Income", "Hours"]
        assert sum(shares.values()) == pytest.approx(1.0, abs=1e-3)
    for key in ("projected_change_in_recessions", "projected_change_in_expansions"):
        assert np.isfinite(numbers[key])
    # The projection of the first recession month is the best run's, from that month.
    projection = model.project(example.load_growth(),
                               steps=example.STEPS, origins=["2020-03-01"])
    episode = numbers["episodes"]["2020"]
    assert projection.factor[0, 0] == pytest.approx(episode["factor_at_first_month"])
    assert projection.factor[0, -1] - projection.factor[0, 0] == pytest.approx(
        episode["projected_change_from_first_month"])


def test_an_existing_output_is_refused_unless_overwritten(example, tmp_path, capsys):
    numbers = tmp_path / "n.json"
    numbers.write_text("earlier run")
    with pytest.raises(SystemExit):
        example.parse_args(["--quick", "--output", str(numbers)])
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert numbers.read_text() == "earlier run"
    assert example.parse_args(["--quick", "--output", str(numbers), "--overwrite"]).overwrite
