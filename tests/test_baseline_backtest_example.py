import numpy as np


def test_quick_backtest_tables_are_complete_and_finite(load_example):
    rmse, overall = load_example("baseline_backtest").main(["--quick"])
    assert set(rmse.columns.astype(float)) == {1.0, 2.0, 3.0, 5.0, 7.0, 10.0}
    assert set(overall.index.get_level_values("model")) == {"RW", "NS_AR", "NS_VAR", "NSS_VAR"}
    assert np.isfinite(rmse.to_numpy()).all() and (rmse.to_numpy() > 0).all()
    assert overall["picp"].between(0, 1).all()
    assert overall.loc[(1, "RW"), "dm_pvalue_vs_rw"] != overall.loc[(1, "RW"), "dm_pvalue_vs_rw"]
    assert overall.drop(index="RW", level="model")["dm_pvalue_vs_rw"].between(0, 1).all()
