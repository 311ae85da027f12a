"""Output folders written in one step: the old complete folder or the new one, never a mixture."""

import pytest

from skyield.utils import _output, check_output_target, staged_folder


def _fill(folder, **files):
    for name, text in files.items():
        (folder / name).write_text(text)


def test_a_staged_folder_appears_whole_and_replaces_the_old_one_whole(tmp_path):
    target = tmp_path / "deep" / "out"
    with staged_folder(target, overwrite=False) as staging:
        assert staging.parent == target.parent and staging.name.startswith(".out.partial-")
        _fill(staging, a="1", b="1")
        assert not target.exists()
    assert sorted(p.name for p in target.iterdir()) == ["a", "b"]
    with staged_folder(target, overwrite=True) as staging:
        _fill(staging, c="2")
    assert [p.name for p in target.iterdir()] == ["c"]
    assert [p.name for p in target.parent.iterdir()] == ["out"]


def test_without_an_exchange_the_swap_takes_two_renames(tmp_path, monkeypatch):
    monkeypatch.setattr(_output, "_exchange", lambda first, second: False)
    target = tmp_path / "out"
    target.mkdir()
    _fill(target, old="0")
    with staged_folder(target, overwrite=True) as staging:
        _fill(staging, new="1")
    assert [p.name for p in target.iterdir()] == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_failed_block_leaves_everything_as_it_was(tmp_path):
    target = tmp_path / "made" / "for" / "out"
    with pytest.raises(RuntimeError):
        with staged_folder(target, overwrite=False) as staging:
            _fill(staging, a="1")
            raise RuntimeError("report failed")
    assert list(tmp_path.iterdir()) == []  # the parents made for it are gone too
    kept = tmp_path / "kept"
    kept.mkdir()
    _fill(kept, a="old")
    with pytest.raises(KeyboardInterrupt):
        with staged_folder(kept, overwrite=True) as staging:
            _fill(staging, a="new")
            raise KeyboardInterrupt
    assert (kept / "a").read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["kept"]


def test_an_output_that_may_not_be_replaced_is_refused_before_any_work(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="exists and is not a folder"):
        check_output_target(tmp_path / "file", overwrite=True)
    full = tmp_path / "full"
    full.mkdir()
    _fill(full, a="1")
    with pytest.raises(ValueError, match="already exists and is not empty"):
        check_output_target(full, overwrite=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with staged_folder(empty, overwrite=False) as staging:
        _fill(staging, a="1")
    assert (empty / "a").exists()
