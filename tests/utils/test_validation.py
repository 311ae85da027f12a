import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator

from skyield.utils import (
    check_correlation,
    check_covariance,
    check_family_panel,
    check_maturities,
    check_panel,
    check_targets,
    resolve_device,
    resolve_maturities,
    restore_target_layout,
    torch_seed,
    validate_windows,
)


@pytest.fixture
def frame():
    dates = pd.date_range("2010-01-29", periods=6, freq="W-FRI")
    return pd.DataFrame(np.arange(18.0).reshape(6, 3), index=dates, columns=["1Y", "5Y", "10Y"])


def test_valid_panel(frame):
    panel = check_panel(frame)
    assert panel.values.dtype == np.float64 and panel.values.shape == (6, 3)
    np.testing.assert_array_equal(panel.maturities, [1.0, 5.0, 10.0])
    assert panel.label(2) == "date 2010-02-12"


def test_unsorted_dates_name_both_dates(frame):
    swapped = frame.iloc[[0, 2, 1, 3, 4, 5]]
    with pytest.raises(ValueError, match="2010-02-05 follows 2010-02-12"):
        check_panel(swapped)


def test_duplicated_dates(frame):
    with pytest.raises(ValueError, match="duplicated dates: 2010-01-29"):
        check_panel(pd.concat([frame.iloc[:1], frame]))


def test_non_numeric_column(frame):
    frame["5Y"] = frame["5Y"].astype(str)
    with pytest.raises(ValueError, match=r"column '5Y' holds text \('1.0' at date 2010-01-29\)"):
        check_panel(frame)


def test_missing_policy(frame):
    frame.iloc[3, 2] = np.nan
    with pytest.raises(ValueError, match="1 missing value.*date 2010-02-19, column '10Y'"):
        check_panel(frame)
    assert np.isnan(check_panel(frame, missing="allow").values[3, 2])
    with pytest.raises(ValueError, match="missing must be one of"):
        check_panel(frame, missing="fill")


def test_infinite_values_always_raise(frame):
    frame.iloc[1, 0] = np.inf
    with pytest.raises(ValueError, match="infinite value at date 2010-02-05, column '1Y'"):
        check_panel(frame, missing="allow")


def test_too_short(frame):
    with pytest.raises(ValueError, match="has 6 dates but at least 10 are needed"):
        check_panel(frame, min_length=10)


def test_unsorted_and_duplicated_maturities(frame):
    swapped = frame.rename(columns={"1Y": "5Y", "5Y": "1Y"})
    with pytest.raises(ValueError, match="not sorted: entry 1 \\(1 years\\) follows entry 0"):
        check_panel(swapped, need_maturities=True)
    # A panel whose model needs no maturities may list its columns in any order.
    assert check_panel(swapped).maturities is None
    with pytest.raises(ValueError, match="duplicated"):
        check_maturities([1.0, 2.0, 2.0])


def test_maturity_resolution():
    assert list(resolve_maturities("uniform", 3)) == [1.0, 2.0, 3.0]
    assert list(resolve_maturities([0.25, 1.0], 2)) == [0.25, 1.0]
    assert list(resolve_maturities(None, 2, columns=[0.5, 2.0])) == [0.5, 2.0]
    with pytest.raises(ValueError, match="this model needs maturities"):
        resolve_maturities(None, 2)
    with pytest.raises(ValueError, match="has 3 entries but the data has 2 series"):
        resolve_maturities([1, 2, 3], 2)
    assert resolve_maturities(None, 2, required=False) is None
    # Columns that are not maturities (macro series) are fine unless a model needs maturities.
    assert resolve_maturities(None, 2, columns=["INDPRO", "AWHMAN"], required=False) is None
    with pytest.raises(ValueError, match="column 0 \\('INDPRO'\\)"):
        resolve_maturities(None, 2, columns=["INDPRO", "AWHMAN"])
    macro = pd.DataFrame({"INDPRO": [1.0, 2.0]}, index=pd.date_range("2000", periods=2, freq="MS"))
    assert check_panel(macro).maturities is None


def test_arrays_and_bad_shapes():
    panel = check_panel(np.arange(5))
    assert panel.values.shape == (5, 1) and panel.maturities is None and panel.index is None
    assert panel.label(3) == "row 3"
    with pytest.raises(ValueError, match="must be 2-D"):
        check_panel(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"holds text \('a' at position \(0, 0\)\)"):
        check_panel(np.array([["a"]]))


def test_family_panels_mismatched_grids(frame):
    other = frame.copy()
    other["5Y"] = np.nan  # a family that has no 5-year values on the shared grid
    stacked = pd.concat({"USD": frame, "CHF": other}, names=["family", "date"])
    with pytest.raises(ValueError, match="family 'CHF'.*column '5Y'"):
        check_family_panel(stacked)
    panels = check_family_panel(stacked, missing="allow")
    assert list(panels) == ["USD", "CHF"]
    with pytest.raises(ValueError, match="MultiIndex"):
        check_family_panel(frame)
    with pytest.raises(ValueError, match="has a MultiIndex"):
        check_panel(stacked)


class _Dummy(BaseEstimator):
    pass


def test_window_input_conventions():
    est = _Dummy()
    X3, _ = validate_windows(est, np.zeros((4, 5, 2)))
    assert X3.shape == (4, 5, 2)
    flat = np.arange(4 * 10.0).reshape(4, 10)
    X, _ = validate_windows(est, flat, window=5)
    assert X.shape == (4, 5, 2)
    # Time-major flattening: the first two features are the two series at the oldest lag.
    np.testing.assert_array_equal(X[0, 0], flat[0, :2])
    # window="row": each row is the window of one series (its n_features dates).
    X, _ = validate_windows(est, flat, window="row")
    assert X.shape == (4, 10, 1)
    np.testing.assert_array_equal(X[1, :, 0], flat[1])
    # Without window a 2-D X is an error: a panel or flattened windows would be misread.
    with pytest.raises(ValueError, match=r"X is 2-D, shape \(4, 10\).*needs window="):
        validate_windows(est, flat)
    with pytest.raises(ValueError, match="window='row' reads 2-D rows; X is 3-D"):
        validate_windows(est, np.zeros((4, 5, 2)), window="row")
    with pytest.raises(ValueError, match="X must be 2-D or 3-D"):
        validate_windows(est, np.zeros((2, 3, 4, 5)))
    with pytest.raises(ValueError, match="10 features, which is not a multiple of window=3"):
        validate_windows(est, flat, window=3)
    with pytest.raises(ValueError, match="windows have length 5 but window=4"):
        validate_windows(est, np.zeros((4, 5, 2)), window=4)
    with pytest.raises(ValueError, match="NaN"):
        validate_windows(est, np.full((2, 3), np.nan), window=3)
    X, y = validate_windows(est, np.zeros((4, 5, 2)), np.arange(24.0).reshape(4, 3, 2))
    assert y.shape == (4, 3, 2) and y[1, 2, 0] == 10.0
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        validate_windows(est, np.zeros((4, 5, 2)), np.zeros((3, 3, 2)))
    # Prediction (reset=False) checks the number of series seen in fit.
    est.n_series_in_ = 2
    validate_windows(est, np.zeros((1, 5, 2)), reset=False)
    with pytest.raises(ValueError, match="X has 3 series but _Dummy was fitted with 2"):
        validate_windows(est, np.zeros((1, 5, 3)), reset=False)


def test_target_layout_round_trip():
    for shape in [(5,), (5, 3), (5, 2, 3)]:
        y = np.arange(np.prod(shape), dtype=float).reshape(shape)
        y3, layout = check_targets(y)
        assert y3.ndim == 3
        np.testing.assert_array_equal(restore_target_layout(y3, layout), y)
        with_quantiles = np.repeat(y3[..., None], 4, axis=-1)
        assert restore_target_layout(with_quantiles, layout).shape == shape + (4,)
    with pytest.raises(ValueError, match="y has 5 samples but X has 4"):
        check_targets(np.zeros(5), n_samples=4)


def test_device_resolution():
    import torch

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("tpu-please")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


def test_torch_seed_is_reproducible_and_leaves_global_state_alone():
    import torch

    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    with torch_seed(7) as generator:
        first = torch.rand(3)
        shuffled = torch.randperm(10, generator=generator)
    with torch_seed(7) as generator:
        assert torch.equal(first, torch.rand(3))
        assert torch.equal(shuffled, torch.randperm(10, generator=generator))
    assert torch.equal(torch.rand(3), expected_next)


def test_shared_level_and_coverage_checks():
    from skyield.utils import check_coverage, check_increasing_levels

    np.testing.assert_array_equal(check_increasing_levels([0.1, 0.5]), [0.1, 0.5])
    with pytest.raises(ValueError, match="quantiles must be strictly increasing"):
        check_increasing_levels([0.5, 0.1])
    with pytest.raises(ValueError, match="levels must lie strictly between 0 and 1"):
        check_increasing_levels([0.0, 0.5], name="levels")
    with pytest.raises(ValueError, match="non-empty 1-D sequence"):
        check_increasing_levels([])
    assert check_coverage(0.9) == 0.9
    for bad in (1.0, 0, True, "0.9"):
        with pytest.raises(ValueError, match="coverage must be a number strictly between 0 and 1"):
            check_coverage(bad)


@pytest.mark.parametrize("horizons, expected", [
    (None, ()), (3, (1, 2, 3)), ([1, 6, 12], (1, 6, 12)), (np.int64(2), (1, 2)),
])
def test_check_horizons_expands_and_keeps_horizons(horizons, expected):
    from skyield.utils import check_horizons

    assert check_horizons(horizons) == expected


@pytest.mark.parametrize("horizons", [0, [3, 1], [1, 1], [], [0, 2], True])
def test_check_horizons_rejects_bad_horizons(horizons):
    from skyield.utils import check_horizons

    with pytest.raises(ValueError, match="horizons must be"):
        check_horizons(horizons)


def test_check_window_and_target_positions():
    from skyield.utils import check_window, target_positions

    assert check_window(np.int32(4)) == 4
    for bad in (0, 2.5, True, "3"):
        with pytest.raises(ValueError, match="window must be a positive integer"):
            check_window(bad)
    assert target_positions(["3M", "2Y", "10Y"], None) == [0, 1, 2]
    assert target_positions(["3M", "2Y", "10Y"], ["10Y", "3M"]) == [2, 0]
    assert target_positions([0.25, 2.0], 2.0) == [1]
    with pytest.raises(ValueError, match="target '5Y' is not a column"):
        target_positions(["3M", "2Y"], "5Y")


def test_torch_seed_blocks_in_threads_take_turns_and_stay_reproducible():
    import threading
    import time

    import torch

    from skyield.utils import torch_seed

    draws = {}

    def draw(name):
        with torch_seed(7):
            values = []
            for _ in range(5):
                values.append(float(torch.rand(())))
                time.sleep(0.01)  # invites the other thread to draw in between
            draws[name] = values

    threads = [threading.Thread(target=draw, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert draws["a"] == draws["b"]


def test_check_correlation_returns_a_copy_and_accepts_a_singular_matrix():
    singular = np.ones((3, 3))  # the correlation of three identical series
    checked = check_correlation(singular)
    assert checked is not singular
    np.testing.assert_array_equal(checked, singular)


@pytest.mark.parametrize("correlation, message", [
    ([1.0, 0.5], r"correlation must be square .* got shape \(2,\)"),
    ([[1.0, np.inf], [np.inf, 1.0]], r"non-finite entry at \(0, 1\): inf"),
    ([[1.0, 0.5], [0.5 + 1e-9, 1.0]], r"symmetric; entry \(0, 1\) is 0.5 and \(1, 0\)"),
    ([[1.0, 0.5], [0.5, 0.9]], r"unit diagonal .*entry \(1, 1\) is 0.9"),
    ([[1.0, 1.5], [1.5, 1.0]], "positive semi-definite; its smallest eigenvalue is -0.5"),
])
def test_check_correlation_names_what_fails(correlation, message):
    with pytest.raises(ValueError, match=message):
        check_correlation(correlation)


@pytest.mark.parametrize("covariance, shape, message", [
    ([1.0, 0.5], None, r"Q must be a square matrix, got shape \(2,\)"),
    (np.eye(2), (3, 3), r"Q must have shape \(3, 3\), got shape \(2, 2\)"),
    ([[1.0, np.nan], [np.nan, 1.0]], None, r"non-finite entry at \(0, 1\): nan"),
    ([[4.0, 1.0], [1.0 + 1e-6, 4.0]], None,
     r"symmetric; entry \(0, 1\) is 1.0 and \(1, 0\) is 1.000001"),
    ([[1.0, 2.0], [2.0, 1.0]], None, "positive semi-definite; its smallest eigenvalue is -1"),
])
def test_check_covariance_names_what_fails(covariance, shape, message):
    with pytest.raises(ValueError, match=message):
        check_covariance(covariance, "Q", shape=shape)


def test_check_covariance_tolerates_rounding_not_negative_variance():
    # The tolerances scale with the matrix: rounding of a tiny or a huge covariance passes.
    for scale in (1e-12, 1.0, 1e12):
        singular = scale * np.ones((3, 3))
        singular[0, 1] += scale * 1e-12
        checked = check_covariance(singular, "Q")
        assert checked is not singular and checked.dtype == float
    with pytest.raises(ValueError, match="positive semi-definite"):
        check_covariance(1e-12 * np.diag([1.0, -1e-6]), "Q")


def test_covariance_factor_reproduces_singular_and_asymmetric_rounding():
    from skyield.utils import covariance_factor

    rng = np.random.default_rng(0)
    shocks = rng.standard_normal((5, 2))
    singular = shocks @ shocks.T                      # rank 2 of 5
    factor = covariance_factor(singular)
    np.testing.assert_allclose(factor @ factor.T, singular, atol=1e-12)
    rounded = singular.copy()
    rounded[0, 1] += 1e-15                            # rounding off symmetry
    np.testing.assert_allclose(covariance_factor(rounded) @ covariance_factor(rounded).T,
                               (rounded + rounded.T) / 2, atol=1e-12)


@pytest.mark.parametrize("horizons", [[1.5, 2.7], [1.0, 6.0], ["1", "6"], [True, 2], "12"])
def test_check_horizons_never_truncates_or_reads_text(horizons):
    from skyield.utils import check_horizons

    with pytest.raises(ValueError, match="horizons must be"):
        check_horizons(horizons)


def test_check_numeric_refuses_complex_numbers_and_repeated_labels():
    from skyield.utils import check_numeric

    dates = pd.date_range("2000-01-31", periods=3, freq="ME")
    with pytest.raises(ValueError, match="Y column '10Y' holds complex numbers"):
        check_numeric(pd.DataFrame({"10Y": [1 + 5j, 2, 3]}, index=dates), "Y")
    with pytest.raises(ValueError, match="Y holds complex numbers"):
        check_numeric([1.0, 2 + 1j], "Y")
    with pytest.raises(ValueError, match="Y has the column label '10Y' more than once"):
        check_numeric(pd.DataFrame(np.ones((3, 2)), index=dates, columns=["10Y", "10Y"]),
                      "Y")
    with pytest.raises(ValueError, match=r"Y holds booleans \(True at position 0\)"):
        check_numeric([True, 2.0], "Y")
    check_numeric([1, 2.5, None], "Y")              # numbers, a missing value: accepted
