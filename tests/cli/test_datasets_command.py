import pytest

from skyield.cli import main


def test_lists_every_bundled_dataset(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("treasury_cmt", "gsw_zero", "international_curves", "coincident_indicators",
                 "nber_recessions"):
        assert name in out
    assert "1962-01-02 .. 2026-02-20" in out


def test_describes_one_dataset_at_a_frequency(capsys):
    assert main(["datasets", "treasury_cmt", "--freq", "monthly"]) == 0
    out = capsys.readouterr().out
    assert "10Y" in out and "2026-01-30" in out


def test_unknown_dataset_is_a_clear_error(capsys):
    assert main(["datasets", "eiopa"]) == 2
    assert "unknown dataset 'eiopa'" in capsys.readouterr().err


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "benchmark" in out and "datasets" in out
