"""The table of docs/contract.md says which model has which method: it must be true."""

import re
from pathlib import Path

import pytest

from skyield.base import BaseSequenceModel, BaseWindowRegressor, accepts_families
from skyield.utils.discovery import all_estimators

TABLE = Path(__file__).resolve().parents[1] / "docs" / "contract.md"
METHODS = ["predict", "predict_quantiles", "predict_interval", "get_attention", "transform"]


def _rows():
    rows = {}
    for line in TABLE.read_text().splitlines():
        match = re.match(r"\| `(\w+)` \| ([^|]+) \|(.*)\|$", line)
        if match:
            cells = [cell.strip() for cell in match.group(3).split("|")]
            rows[match.group(1)] = (match.group(2).strip(), cells)
    return rows


def test_every_model_is_in_the_table():
    models = {name for name, cls in all_estimators()
              if issubclass(cls, (BaseWindowRegressor, BaseSequenceModel))}
    assert set(_rows()) == models


@pytest.mark.parametrize("name", sorted(_rows()))
def test_the_row_of_a_model_matches_its_methods(name):
    kind, cells = _rows()[name]
    classes = dict(all_estimators())
    cls = classes[name]
    params = cls.get_test_params()[0]
    estimator = cls(**params)
    assert kind.split(",")[0] == ("sequence" if issubclass(cls, BaseSequenceModel)
                                  else "window")
    assert ("families" in kind) == (accepts_families(cls.fit)
                                    or name == "PerFamily")
    for method, cell in zip(METHODS, cells):
        # available_if methods depend on the configuration: "(extractors ...)", "(when
        # ...)", "(if ...)" mark them
        conditional = "(" in cell and any(word in cell for word in ("extractors", "when",
                                                                   "if the"))
        present = callable(getattr(estimator, method, None))
        if cell == "—":
            assert not present, (name, method)
        elif not conditional:
            assert present, (name, method)
    forecast_cell, paths_cell = cells[5], cells[6]
    has_forecast = callable(getattr(cls, "forecast", None)) and \
        callable(getattr(cls, "update", None))
    assert (forecast_cell != "—") == (has_forecast or "update" in forecast_cell), name
    assert (paths_cell == "yes") == _simulates(cls), name


def _simulates(cls):
    """Whether the class implements the simulation behind ``sample_paths``."""
    return "sample_paths" in vars(cls) or any(
        "_sample_paths" in vars(klass) for klass in cls.__mro__
        if klass is not BaseSequenceModel)
