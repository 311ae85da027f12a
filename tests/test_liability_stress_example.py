"""The liability-stress example runs in its CI configuration and gives sane outputs."""

import json

import numpy as np
import pytest



@pytest.fixture(scope="module")
def example(load_example):
    return load_example("liability_stress")


@pytest.fixture(scope="module")
def quick_run(example, tmp_path_factory):
    # A folder left by an earlier run, replaced as a whole since overwrite=True.
    out_dir = tmp_path_factory.mktemp("liability")
    (out_dir / "stale.txt").write_text("earlier run")
    return example.run(example.QUICK, seed=0, output_dir=out_dir, overwrite=True), out_dir


def test_liability_profile_and_base_value(example):
    times, flows = example.liability()
    assert times.tolist() == list(range(1, 31))
    assert flows[0] == pytest.approx(100.0) and flows[-1] == pytest.approx(100 / 30)
    assert np.all(np.diff(flows) < 0)
    maturities = np.asarray(example.MATURITIES, dtype=float)
    # Flat 0% curve: the value at 12 months is the undiscounted sum of the flows.
    assert example.value_at_one_year(np.zeros(10), maturities) == pytest.approx(flows.sum())
    # A parallel fall of rates raises the value (the loss the stress measures).
    low = example.value_at_one_year(np.full(10, 2.0), maturities)
    high = example.value_at_one_year(np.full(10, 3.0), maturities)
    assert flows.sum() > low > high > 0
    # Continuous compounding in percent: one flow of 100 at 3 years under a flat 4%.
    flat = np.full(10, 4.0)
    one = example._present_value_today(flat, maturities)
    assert one == pytest.approx(float((flows * np.exp(-0.04 * times)).sum()))


def test_refuses_a_non_empty_output_folder_before_any_work(example, tmp_path, monkeypatch):
    kept = tmp_path / "notes.txt"
    kept.write_text("kept")
    monkeypatch.setattr("skyield.datasets.load_gsw_zero",
                        lambda *args, **kwargs: pytest.fail("data was loaded"))
    with pytest.raises(ValueError, match="already exists and is not empty"):
        example.main(["--quick", "--no-nnss", "--output-dir", str(tmp_path)])
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]
    assert kept.read_text() == "kept"


def test_quick_run_invariants(quick_run):
    out, out_dir = quick_run
    stress = out["stress"]
    assert {"DNS-VAR", "RW+copula", "Historical"} <= set(stress)
    assert out["pv_today"] > 0 and out["base_value_one_year"] > 0
    for name, s in stress.items():
        assert np.isfinite(s["stress_995"]), name
        assert s["min_pv"] > 0, name
        assert s["stress_995"] >= s["q005_delta"], name
    coverage = out["coverage"]
    assert coverage
    for row in coverage:
        assert 0.0 <= row["picp"] <= 1.0
        assert 0.0 <= row["kupiec_p"] <= 1.0
        assert 0.0 <= row["christoffersen_cc_p"] <= 1.0
        assert row["horizon"] in (1, 12)
    models = {row["model"] for row in coverage}
    assert {"DNS-VAR", "RW+copula"} <= models
    # Every backtested model covers every maturity at both horizons.
    for model in models:
        rows = [r for r in coverage if r["model"] == model]
        assert len(rows) == 2 * len(out["settings"]["maturities"]), model
    saved = json.loads((out_dir / "results.json").read_text())
    assert saved["stress"].keys() == stress.keys()
    assert (out_dir / "tables.md").read_text().startswith("Valuation date")
    assert (out_dir / "liability_pv.png").stat().st_size > 0
    assert (out_dir / "liability_fan.png").stat().st_size > 0
    assert sorted(path.name for path in out_dir.iterdir()) == [
        "liability_fan.png", "liability_pv.png", "results.json", "tables.md"]


def test_quick_run_is_reproducible(example, quick_run):
    out, _ = quick_run
    again = example.run(example.QUICK, seed=0, output_dir=None, include_nnss=False)
    for name in again["stress"]:
        assert again["stress"][name] == out["stress"][name], name
    other = example.run(example.QUICK, seed=1, output_dir=None, include_nnss=False)
    assert other["stress"]["RW+copula"]["stress_995"] != \
        out["stress"]["RW+copula"]["stress_995"]
