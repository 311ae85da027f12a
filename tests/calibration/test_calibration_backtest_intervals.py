import numpy as np
import pandas as pd
import pytest

from skyield.calibration import conformalize_backtest
from skyield.calibration._scores import conformal_quantile, min_conformal_scores


def stream(n_origins=200, *, horizons=(1,), series=("2Y", "10Y"), half_width=1.0, scale=1.0,
           seed=0, model=None, family=None):
    """Backtest-like rows: monthly origins, a zero forecast, normal outcomes, +/-half_width."""
    rng = np.random.default_rng(seed)
    origins = pd.date_range("2000-01-31", periods=n_origins, freq="ME")
    rows = pd.DataFrame(
        [(origin, h, name) for origin in origins for h in horizons for name in series],
        columns=["origin", "horizon", "series"])
    rows["target_date"] = [origin + pd.offsets.MonthEnd(h)
                           for origin, h in zip(rows["origin"], rows["horizon"])]
    scale = np.broadcast_to(scale, len(rows))
    rows["forecast"] = 0.0
    rows["actual"] = rng.normal(size=len(rows)) * scale
    rows["lower"] = -half_width * scale
    rows["upper"] = half_width * scale
    if model is not None:
        rows["model"] = model
    if family is not None:
        rows.insert(3, "family", family)
    return rows


def brute_force(results, coverage, *, method="cqr", by=("horizon", "series"),
                min_scores=None, score_window=None, pool_families=False):
    """The rule row by row: the scores of the group whose target date <= the origin."""
    min_scores = min_conformal_scores(coverage) if min_scores is None else min_scores
    separate = ("model",) if pool_families else ("model", "family")
    keys = [c for c in separate if c in results] + list(by)
    lower, upper = results["lower"].to_numpy(), results["upper"].to_numpy()
    actual = results["actual"].to_numpy()
    width = upper - lower if method == "cqr-r" else np.ones(len(results))
    scores = np.maximum(lower - actual, actual - upper) / width
    new_lower, new_upper = lower.copy(), upper.copy()
    flag = np.zeros(len(results), dtype=bool)
    for i in range(len(results)):
        if np.isnan(lower[i]):
            continue
        same = np.ones(len(results), dtype=bool)
        for key in keys:
            same &= (results[key] == results[key].iloc[i]).to_numpy()
        known = same & (results["target_date"] <= results["origin"].iloc[i]).to_numpy() \
            & ~np.isnan(scores)
        order = np.argsort(results["target_date"].to_numpy()[known], kind="stable")
        used = scores[known][order]
        if score_window is not None:
            used = used[-score_window:]
        if used.size < min_scores:
            continue
        shift = conformal_quantile(used, coverage) * width[i]
        middle = (lower[i] + upper[i]) / 2
        new_lower[i] = min(lower[i] - shift, middle)
        new_upper[i] = max(upper[i] + shift, middle)
        flag[i] = True
    return new_lower, new_upper, flag


def brute_force_tracking(results, coverage, rate, *, method="cqr", by=("horizon", "series"),
                         min_scores=None, score_window=None, pool_families=False):
    """Quantile tracking literally: origins in date order, each group's term rebuilt."""
    base_lower, base_upper, base_flag = brute_force(
        results, coverage, method=method, by=by, min_scores=min_scores,
        score_window=score_window, pool_families=pool_families)
    separate = ("model",) if pool_families else ("model", "family")
    keys = [c for c in separate if c in results] + list(by)
    group = results.groupby(keys, sort=False).ngroup().to_numpy() if keys \
        else np.zeros(len(results), dtype=int)
    lower, upper = results["lower"].to_numpy(), results["upper"].to_numpy()
    actual = results["actual"].to_numpy()
    origin, target = results["origin"].to_numpy(), results["target_date"].to_numpy()
    width = upper - lower if method == "cqr-r" else np.ones(len(results))
    scores = np.maximum(lower - actual, actual - upper) / width
    middle = (lower + upper) / 2
    # the conformal quantile alone, in units of the width (0 where too few scores)
    base = np.where(base_flag, (lower - np.minimum(base_lower, middle)) / width, 0.0)
    # collapsed rows: recompute the (more negative) correction the rule gave them
    collapsed = base_flag & (base_lower == base_upper)
    base[collapsed] = np.nan
    new_lower, new_upper = lower.copy(), upper.copy()
    flag = base_flag.copy()
    issued_miss = np.zeros(len(results), dtype=bool)
    for date in np.unique(origin):
        for i in np.flatnonzero((origin == date) & ~np.isnan(lower)):
            same = group == group[i]
            observed = same & (target <= date) & ~np.isnan(scores)
            term = 0.0
            for day in np.unique(target[observed]):
                on_day = observed & (target == day)
                known = scores[observed & (target <= day)]
                share = issued_miss[on_day].mean()
                term += rate * (known.max() - known.min()) * (share - (1 - coverage))
            q = base[i]
            assert not np.isnan(q), "a collapsed row: choose data without"
            shift = (q + term) * width[i]
            new_lower[i] = min(lower[i] - shift, middle[i])
            new_upper[i] = max(upper[i] + shift, middle[i])
            flag[i] = flag[i] or observed.any()
            issued_miss[i] = actual[i] < new_lower[i] or actual[i] > new_upper[i]
    return new_lower, new_upper, flag


def picp(frame):
    return float(frame["actual"].between(frame["lower"], frame["upper"]).mean())


def messy_frame():
    """Two models, two families, two horizons, intervals of varying width, NaN rows."""
    parts = []
    for number, (model, family) in enumerate([("a", "EUR"), ("a", "USD"), ("b", "EUR")]):
        part = stream(45, horizons=(1, 3), series=("2Y",), seed=number, model=model,
                      family=family,
                      scale=np.random.default_rng(10 + number).uniform(0.5, 2.0, 90))
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    rng = np.random.default_rng(1)
    no_interval = rng.random(len(frame)) < 0.1
    frame.loc[no_interval, ["lower", "upper"]] = np.nan
    frame.loc[rng.random(len(frame)) < 0.05, "actual"] = np.nan
    return frame.sample(frac=1.0, random_state=0)  # row order is not time order


@pytest.mark.parametrize("method", ["cqr", "cqr-r"])
@pytest.mark.parametrize("options", [{}, {"min_scores": 25}, {"score_window": 22},
                                     {"by": ("horizon",)}, {"by": ()},
                                     {"pool_families": True}])
def test_matches_the_rule_applied_row_by_row(method, options):
    frame = messy_frame()
    got = conformalize_backtest(frame, 0.9, method=method, **options)
    lower, upper, flag = brute_force(frame, 0.9, method=method, **options)
    np.testing.assert_array_equal(got["conformal"].to_numpy(), flag)
    assert flag.any() and not flag.all()
    np.testing.assert_allclose(got["lower"].to_numpy(), lower, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["upper"].to_numpy(), upper, rtol=0, atol=1e-12)
    # a copy: same index and columns (plus the flag), the input left alone
    assert got.index.equals(frame.index)
    assert list(got.columns) == list(frame.columns) + ["conformal"]
    assert "conformal" not in frame


@pytest.mark.parametrize("method", ["cqr", "cqr-r"])
@pytest.mark.parametrize("options", [{}, {"min_scores": 25, "score_window": 30},
                                     {"by": ("horizon",)}, {"pool_families": True}])
def test_tracking_matches_the_rule_applied_row_by_row(method, options):
    # intervals wide enough that no conformal correction collapses one to its midpoint
    frame = messy_frame()
    frame["lower"] -= 1.0
    frame["upper"] += 1.0
    got = conformalize_backtest(frame, 0.8, method=method, tracking_rate=0.3, **options)
    lower, upper, flag = brute_force_tracking(frame, 0.8, 0.3, method=method, **options)
    np.testing.assert_array_equal(got["conformal"].to_numpy(), flag)
    np.testing.assert_allclose(got["lower"].to_numpy(), lower, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["upper"].to_numpy(), upper, rtol=0, atol=1e-12)
    # tracking moves the rows that the conformal quantile alone leaves to the model
    plain = conformalize_backtest(frame, 0.8, method=method, **options)
    assert (got["conformal"] & ~plain["conformal"]).any()
    assert not np.allclose(got["upper"], plain["upper"], equal_nan=True)


def test_tracking_restores_coverage_after_a_shift_in_the_errors():
    # errors twice as large from origin 400 on: the conformal quantile of all past
    # scores keeps the intervals too narrow for long; tracking the misses widens them
    scale = np.where(np.arange(2400) < 800, 1.0, 2.0)  # two series per origin
    frame = stream(1200, half_width=1.0, scale=1.0)
    frame["actual"] *= scale
    late = frame["origin"] >= frame["origin"].unique()[400]
    plain = conformalize_backtest(frame, 0.95)
    tracked = conformalize_backtest(frame, 0.95, tracking_rate=0.1)
    assert picp(plain[late]) < 0.89
    assert picp(tracked[late]) == pytest.approx(0.95, abs=0.015)
    assert picp(tracked) == pytest.approx(0.95, abs=0.015)
    # before the shift, tracking keeps the coverage of the conformal quantile
    early = ~late & plain["conformal"]
    assert abs(picp(tracked[early]) - picp(plain[early])) < 0.02
    # the rate is on the scores' scale: outcomes and bounds x100 give bounds x100
    scaled = frame.assign(**{c: frame[c] * 100 for c in ("actual", "lower", "upper")})
    np.testing.assert_allclose(
        conformalize_backtest(scaled, 0.95, tracking_rate=0.1)["upper"],
        tracked["upper"] * 100, rtol=1e-9)


@pytest.mark.parametrize("method", ["cqr", "cqr-r"])
@pytest.mark.parametrize("tracking_rate", [None, 0.2])
def test_planted_future_outcomes_leave_an_origin_unchanged(method, tracking_rate):
    frame = stream(80, horizons=(1, 3), series=("2Y", "10Y"), half_width=1.5)
    origin = frame["origin"].unique()[50]
    at_origin = (frame["origin"] == origin).to_numpy()
    before = conformalize_backtest(frame, 0.9, method=method, tracking_rate=tracking_rate)
    assert before.loc[at_origin, "conformal"].all()

    future = frame["target_date"] > origin
    planted = frame.copy()
    planted.loc[future, "actual"] += 100.0 * np.random.default_rng(5).normal(size=future.sum())
    after = conformalize_backtest(planted, 0.9, method=method, tracking_rate=tracking_rate)
    for column in ("lower", "upper", "conformal"):
        np.testing.assert_array_equal(after.loc[at_origin, column],
                                      before.loc[at_origin, column])
    assert not np.allclose(after.loc[future, "lower"], before.loc[future, "lower"])

    # an outcome observed by the origin moves its group's bounds: the smallest score of
    # the group (2Y, one month) made huge shifts the conformal quantile by one rank
    group = (frame["series"] == "2Y") & (frame["horizon"] == 1)
    scores = np.maximum(frame["lower"] - frame["actual"], frame["actual"] - frame["upper"])
    smallest = scores[group & (frame["target_date"] <= origin)].idxmin()
    changed = frame.copy()
    changed.loc[smallest, "actual"] = 1e3
    moved = conformalize_backtest(changed, 0.9, method=method, tracking_rate=tracking_rate)
    row = at_origin & group.to_numpy()
    assert (moved.loc[row, "upper"] > before.loc[row, "upper"]).all()
    others = at_origin & ~group.to_numpy()
    np.testing.assert_array_equal(moved.loc[others, "upper"], before.loc[others, "upper"])


@pytest.mark.parametrize("method", ["cqr", "cqr-r"])
def test_too_narrow_intervals_widen_to_nominal_coverage(method):
    # +/-1 around N(0, s^2) errors claim 95% and cover 68%
    scale = np.exp(np.sin(np.arange(3000) / 50.0))
    frame = stream(1500, half_width=1.0, scale=scale)
    assert picp(frame) == pytest.approx(0.68, abs=0.03)
    recalibrated = conformalize_backtest(frame, 0.95, method=method)
    rows = recalibrated["conformal"]
    assert picp(recalibrated[rows]) == pytest.approx(0.95, abs=0.015)
    if method == "cqr-r":  # multiplicative: every interval's width is scaled alike per origin
        ratio = (recalibrated["upper"] - recalibrated["lower"]) / (frame["upper"] - frame["lower"])
        last = recalibrated["origin"] == recalibrated["origin"].max()
        assert ratio[last].nunique() == 2  # one per series
        # scores (|z| - 1) / 2 of standard normal z: the ratio tends to 1.96
        assert ratio[rows].iloc[1000:].median() == pytest.approx(1.96, abs=0.05)


def test_too_wide_intervals_come_down_to_nominal_coverage():
    frame = stream(1500, half_width=4.0)
    assert picp(frame) > 0.999
    recalibrated = conformalize_backtest(frame, 0.95)
    rows = recalibrated["conformal"]
    assert picp(recalibrated[rows]) == pytest.approx(0.95, abs=0.015)
    width = recalibrated["upper"] - recalibrated["lower"]
    assert width[rows].max() < 0.6 * 8.0


def test_a_correction_past_zero_width_collapses_to_the_midpoint():
    # outcomes always at the midpoint: scores are minus the half-widths (1 to 3), and the
    # conformal quantile asks narrower intervals to shrink past zero width
    frame = stream(60, series=("2Y",))
    half = np.random.default_rng(0).uniform(1.0, 3.0, len(frame))
    middle = np.random.default_rng(1).normal(size=len(frame))
    frame["lower"], frame["upper"], frame["actual"] = middle - half, middle + half, middle
    recalibrated = conformalize_backtest(frame, 0.8)
    rows = recalibrated["conformal"]
    assert (recalibrated["lower"] <= recalibrated["upper"]).all()
    collapsed = rows & (recalibrated["lower"] == recalibrated["upper"])
    assert collapsed.sum() > 5
    np.testing.assert_array_equal(recalibrated.loc[collapsed, "lower"],
                                  ((frame["lower"] + frame["upper"]) / 2)[collapsed])
    assert (recalibrated["upper"] - recalibrated["lower"])[rows].max() < 2 * half[rows].max()


def test_rows_with_too_few_scores_keep_the_models_interval():
    frame = stream(60, horizons=(1, 3), series=("2Y",))
    recalibrated = conformalize_backtest(frame, 0.95, min_scores=30)
    position = frame.groupby("horizon").cumcount()  # origin number within each group
    # at origin i, i one-month outcomes and i - 2 three-month outcomes are known
    known = np.where(frame["horizon"] == 1, position, position - 2)
    np.testing.assert_array_equal(recalibrated["conformal"], known >= 30)
    kept = ~recalibrated["conformal"]
    pd.testing.assert_frame_equal(recalibrated.loc[kept, frame.columns], frame.loc[kept])
    assert (recalibrated.loc[~kept, "upper"] != frame.loc[~kept, "upper"]).all()
    # the default: the fewest scores whose 95% conformal quantile is finite
    default = conformalize_backtest(frame, 0.95)
    np.testing.assert_array_equal(default["conformal"], known >= 19)


def test_rows_without_interval_stay_nan_and_give_no_score():
    frame = stream(100, series=("2Y",), half_width=1.2)
    holes = np.random.default_rng(3).random(len(frame)) < 0.2
    frame.loc[holes, ["lower", "upper"]] = np.nan
    recalibrated = conformalize_backtest(frame, 0.9)
    assert recalibrated.loc[holes, ["lower", "upper"]].isna().all().all()
    assert not recalibrated.loc[holes, "conformal"].any()
    # the rows without interval change nothing for the others
    without = conformalize_backtest(frame[~holes], 0.9)
    pd.testing.assert_frame_equal(recalibrated[~holes], without)
    # a missing outcome gives no score, but the row is still recalibrated
    unobserved = frame.copy()
    unobserved.loc[~holes & (np.arange(len(frame)) % 7 == 0), "actual"] = np.nan
    missing = unobserved["actual"].isna()
    got = conformalize_backtest(unobserved, 0.9)
    assert got.loc[missing & got["conformal"]].shape[0] > 5
    rows = unobserved["lower"].notna()
    scored = conformalize_backtest(unobserved[rows & ~missing], 0.9)
    pd.testing.assert_frame_equal(got[rows & ~missing], scored)


@pytest.mark.parametrize("column", ["model", "family"])
def test_models_and_families_are_calibrated_apart(column):
    wide = stream(80, half_width=3.0, seed=0, **{column: "wide"})
    narrow = stream(80, half_width=0.5, seed=1, **{column: "narrow"})
    together = conformalize_backtest(pd.concat([wide, narrow], ignore_index=True), 0.9)
    apart = pd.concat([conformalize_backtest(wide, 0.9), conformalize_backtest(narrow, 0.9)],
                      ignore_index=True)
    pd.testing.assert_frame_equal(together, apart)
    # pooled with the other one's scores, they would not be
    pooled = pd.concat([wide, narrow.assign(**{column: "wide"})], ignore_index=True)
    assert not np.allclose(conformalize_backtest(pooled, 0.9)["upper"], together["upper"])


def test_deterministic_and_independent_of_row_order():
    frame = messy_frame()
    first = conformalize_backtest(frame, 0.9, method="cqr-r")
    pd.testing.assert_frame_equal(first, conformalize_backtest(frame, 0.9, method="cqr-r"))
    shuffled = conformalize_backtest(frame.sample(frac=1.0, random_state=7), 0.9,
                                     method="cqr-r")
    pd.testing.assert_frame_equal(shuffled.loc[first.index], first)


def test_integer_positions_as_dates():
    frame = stream(60, series=("2Y",))
    dated = conformalize_backtest(frame, 0.9)
    positions = frame.assign(origin=np.arange(60), target_date=np.arange(60) + 1)
    got = conformalize_backtest(positions, 0.9)
    np.testing.assert_array_equal(got["upper"], dated["upper"])


def test_errors_name_what_is_wrong():
    frame = stream(30, series=("2Y",))
    with pytest.raises(TypeError, match="DataFrame"):
        conformalize_backtest(frame.to_numpy(), 0.9)
    with pytest.raises(ValueError, match=r"no column\(s\) \['lower', 'upper'\]"):
        conformalize_backtest(frame.drop(columns=["lower", "upper"]), 0.9)
    with pytest.raises(ValueError, match=r"no column\(s\) \['maturity'\]"):
        conformalize_backtest(frame, 0.9, by="maturity")
    with pytest.raises(ValueError, match="coverage must be"):
        conformalize_backtest(frame, 1.5)
    with pytest.raises(ValueError, match="method must be"):
        conformalize_backtest(frame, 0.9, method="split")
    with pytest.raises(ValueError, match="min_scores=5 is too few for coverage=0.9.*9"):
        conformalize_backtest(frame, 0.9, min_scores=5)
    with pytest.raises(ValueError, match="score_window=10 is smaller than min_scores=12"):
        conformalize_backtest(frame, 0.9, min_scores=12, score_window=10)
    with pytest.raises(ValueError, match="tracking_rate"):
        conformalize_backtest(frame, 0.9, tracking_rate=0.0)
    with pytest.raises(ValueError, match="already have a 'conformal' column"):
        conformalize_backtest(conformalize_backtest(frame, 0.9), 0.9)

    def broken(**changes):
        bad = frame.copy()
        for column, value in changes.items():
            bad.loc[4, column] = value
        return bad

    with pytest.raises(ValueError, match="lower > upper in 1 row"):
        conformalize_backtest(broken(lower=5.0), 0.9)
    with pytest.raises(ValueError, match="row 4 has one interval bound and not the other"):
        conformalize_backtest(broken(upper=np.nan), 0.9)
    with pytest.raises(ValueError, match=r"results\['upper'\] is infinite in row 4"):
        conformalize_backtest(broken(upper=np.inf), 0.9)
    with pytest.raises(ValueError, match=r"results\['origin'\] is missing in row 4"):
        conformalize_backtest(broken(origin=pd.NaT), 0.9)
    with pytest.raises(ValueError, match="row 4 has a target date on or before its origin"):
        conformalize_backtest(broken(target_date=frame["origin"][4]), 0.9)
    with pytest.raises(ValueError, match="row 4 has lower == upper; use method='cqr'"):
        conformalize_backtest(broken(lower=frame["upper"][4]), 0.9, method="cqr-r")
    with pytest.raises(ValueError, match=r"results\['actual'\] must be numeric"):
        conformalize_backtest(frame.assign(actual="1.0"), 0.9)
    with pytest.raises(TypeError, match="can be compared"):
        conformalize_backtest(frame.assign(target_date=np.arange(30) + 1), 0.9)
