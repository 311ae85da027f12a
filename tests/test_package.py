"""The package's version and release metadata have one source: pyproject.toml."""

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest

import skyield
from skyield.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    with open(ROOT / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]


def test_version_is_the_installed_metadata_of_pyproject():
    assert skyield.__version__ == importlib.metadata.version("skyield")
    assert skyield.__version__ == _pyproject()["version"]


def test_citation_and_changelog_name_the_version_of_pyproject():
    version = _pyproject()["version"]
    citation = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert re.findall(r"^version: (.+)$", citation, flags=re.MULTILINE) == [version]
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    # The topmost release section (Keep a Changelog: "## [version] - date"), below the
    # "## [Unreleased]" section where there is one.
    sections = re.findall(r"^## \[([^\]]+)\]", changelog, flags=re.MULTILINE)
    assert [name for name in sections if name != "Unreleased"][0] == version


def test_command_prints_the_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"skyield {skyield.__version__}"


def test_licence_file_is_the_declared_licence():
    project = _pyproject()
    assert project["license"] == "BSD-3-Clause"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("BSD 3-Clause License")
    assert "Neither the name of the copyright holder nor the names of its" in text
