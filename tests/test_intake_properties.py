"""Malformed panels never fit silently: every estimator and the CLI refuse them or warn.

Hypothesis draws a malformed version of a small monthly panel of yields (its details:
which rows, how many, which column, which seed) for each kind of malformation, and the
test feeds it to every public estimator and to ``skyield benchmark``. The outcome must be
an error or a :class:`skyield.utils.UnitsWarning` (turned into an error here, so that
nothing is fitted), whose message names the problem.

Panels reach each kind of estimator through its own door: sequence models, scalers and
curve fits take the panel in ``fit``; window regressors take windows, which the panel
layer cuts (:func:`skyield.model_selection.backtest`), and text windows directly.
"""

import contextlib
import functools
import io
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from skyield.base import estimator_kind
from skyield.cli import main
from skyield.model_selection import backtest
from skyield.utils import UnitsWarning
from skyield.utils.discovery import all_estimators

LABELS = ["1Y", "2Y", "5Y", "10Y"]
# Each kind of malformation, and a word its message must hold.
KINDS = {
    "shuffled": "sorted",
    "duplicated": "duplicated",
    "gapped": "missing between",
    "mixed-frequency": "same month",
    "string-typed": "text",
    "decimal-unit": "decimals",
    "day-first": "skips",
}
# Malformations that do not concern an estimator, with the reason.
NOT_APPLICABLE = {
    # Each curve is fitted on its own: the dates of the curves, if any, do not enter the
    # fit, so their order and spacing are not its concern.
    "NelsonSiegelCurve": ("shuffled", "duplicated", "gapped", "mixed-frequency",
                          "day-first"),
}
# Few examples, always the same ones, and no shrinking (a failure shows its example).
SETTINGS = settings(max_examples=3, deadline=None, derandomize=True, database=None,
                    phases=[Phase.explicit, Phase.generate])


@st.composite
def malformed(draw, kind):
    """A monthly panel of yields with one malformation of ``kind``.

    Returns the panel as an estimator would get it (a day-first file read month first,
    as pandas' guess reads it) and the text of its dates as a file would hold them.
    """
    n_dates = draw(st.integers(30, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    values = 3.0 + np.linspace(0.0, 1.0, len(LABELS)) + 0.1 * rng.normal(
        size=(n_dates, len(LABELS))).cumsum(axis=0)
    dates = pd.date_range("2001-01-31", periods=n_dates, freq="ME", name="date")
    frame = pd.DataFrame(values, index=dates, columns=LABELS)
    texts = None
    if kind == "shuffled":
        first = draw(st.integers(0, n_dates - 2))
        second = draw(st.integers(first + 1, n_dates - 1))
        order = list(range(n_dates))
        order[first], order[second] = second, first
        frame = frame.iloc[order]
    elif kind == "duplicated":
        row = draw(st.integers(0, n_dates - 1))
        frame = pd.concat([frame.iloc[:row + 1], frame.iloc[row:]])
    elif kind == "gapped":
        start, length = draw(st.integers(3, n_dates - 8)), draw(st.integers(1, 4))
        frame = frame.drop(frame.index[start:start + length])
    elif kind == "mixed-frequency":
        month, extra = draw(st.integers(1, n_dates - 2)), draw(st.integers(1, 6))
        days = pd.bdate_range(frame.index[month - 1] + pd.Timedelta(days=1), periods=extra,
                              name="date")
        daily = pd.DataFrame(frame.iloc[month].to_numpy() + 0.01 * rng.normal(
            size=(extra, len(LABELS))), index=days, columns=LABELS)
        frame = pd.concat([frame, daily]).sort_index()
    elif kind == "string-typed":
        frame = frame.round(4).astype({draw(st.sampled_from(LABELS)): str})
    elif kind == "decimal-unit":
        frame = frame / 100.0
    elif kind == "day-first":
        firsts = pd.date_range("2001-02-01", periods=n_dates, freq="MS")
        texts = list(firsts.strftime("%d/%m/%Y"))
        frame.index = pd.to_datetime(texts, format="%m/%d/%Y").rename("date")
    return frame, texts


@functools.cache
def _prototype(name):
    estimator_class = dict(all_estimators())[name]
    return estimator_class(**estimator_class.get_test_params()[0])


def _text_windows(frame):
    values = frame.to_numpy().astype(str)
    X = np.stack([values[i:i + 3] for i in range(len(values) - 3)])
    return X, values[3:].astype(float)


def _refused(call, word):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnitsWarning)
        with pytest.raises((ValueError, UnitsWarning)) as caught:
            call()
    assert word in str(caught.value), str(caught.value)


def _cases():
    for name, _ in all_estimators():
        for kind in KINDS:
            if kind not in NOT_APPLICABLE.get(name, ()):
                yield name, kind


@pytest.mark.parametrize("name, kind", list(_cases()))
@SETTINGS
@given(data=st.data())
def test_every_estimator_refuses_or_warns(name, kind, data):
    frame, _ = data.draw(malformed(kind))
    estimator = clone(_prototype(name))
    word = KINDS[kind]
    try:
        kind_of_model = estimator_kind(estimator)
    except TypeError:
        kind_of_model = None  # a transformer (scaler, curve fit)
    if kind_of_model == "window":
        _refused(lambda: backtest(estimator, frame, window=3, horizons=1, test_start=0.7),
                 word)
        if kind == "string-typed":
            _refused(lambda: clone(estimator).fit(*_text_windows(frame)), word)
    else:
        _refused(lambda: estimator.fit(frame), word)


def _write_csv(frame, texts, path):
    frame = frame.copy()
    if texts is not None:
        frame.index = pd.Index(texts, name="date")
    for column in frame.columns:
        if pd.api.types.is_string_dtype(frame[column]):
            frame[column] = frame[column] + "%"  # numbers as text, as a spreadsheet saves them
    frame.to_csv(path, date_format="%Y-%m-%d", float_format="%.6f")


@pytest.mark.parametrize("kind", list(KINDS))
@SETTINGS
@given(data=st.data())
def test_the_cli_refuses_or_warns(kind, data):
    frame, texts = data.draw(malformed(kind))
    out, err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory() as folder:
        path, output = Path(folder) / "curves.csv", Path(folder) / "out"
        _write_csv(frame, texts, path)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["benchmark", "--dataset", str(path), "--maturities", "all",
                         "--models", "random-walk", "--window", "3", "--horizons", "1",
                         "--test-start", "2003-01-01", "--output", str(output)])
        if kind == "decimal-unit":
            assert code == 0 and "look like decimals" in out.getvalue()
            return
        message = err.getvalue()
        assert code == 2 and not output.exists()
        assert message.count("\n") == 1 and "Traceback" not in message
        assert KINDS[kind] in message or (
            kind == "day-first" and "--date-format" in message) or (
            kind == "string-typed" and "not a number" in message), message
