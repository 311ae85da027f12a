"""Output folders written in one step: a run leaves the old folder or a complete new one.

A command (``skyield benchmark``, the scripts of ``examples/``) writes its files into a new
hidden folder beside the target (:func:`staged_folder`) and moves it into place when every
file is written. Replacing an existing folder (``--overwrite``) exchanges the two folders in
one step where the operating system offers it (Linux ``renameat2(RENAME_EXCHANGE)``), else
by two renames during which an interrupt (Ctrl-C) is held back. So an interrupt or a crash
leaves either the old complete folder or no folder at the target, never a mixture of two
runs, and a run that fails before it writes leaves nothing behind. Written here because
neither the standard library nor the dependencies move a folder over a non-empty one
atomically.
"""

import ctypes
import os
import shutil
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

__all__ = ["check_output_target", "staged_folder"]

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def check_output_target(folder, overwrite):
    """Check, before any work, that ``folder`` may receive the output.

    Parameters
    ----------
    folder : str or path-like
        The output folder; it may not exist yet.
    overwrite : bool
        Whether an existing non-empty folder may be replaced.

    Returns
    -------
    folder : Path

    Raises
    ------
    ValueError
        When ``folder`` is a file, or a non-empty folder and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skyield.utils import check_output_target
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "notes.txt").write_text("kept")
    >>> check_output_target(root, overwrite=False)
    Traceback (most recent call last):
    ...
    ValueError: output folder ... already exists and is not empty; ...
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"output {folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise ValueError(
            f"output folder {folder} already exists and is not empty; choose another "
            f"folder or pass --overwrite to replace it")
    return folder


@contextmanager
def _interrupts_held():
    """Hold SIGINT back while the block runs, and deliver it afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: received.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def _exchange(first, second):
    """Swap two folders in one step (Linux ``renameat2``); False where it is not offered."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
                       _RENAME_EXCHANGE)
    return result == 0


def _move_into_place(staging, target):
    with _interrupts_held():
        if target.is_dir() and any(target.iterdir()):
            if not _exchange(staging, target):
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
                os.replace(target, old / target.name)
                os.replace(staging, target)
                staging = old
            # ``staging`` now holds the previous output.
            shutil.rmtree(staging)
        else:
            # A missing target, or an empty folder, which rename replaces.
            os.replace(staging, target)


def _new_folder(parent, prefix):
    """A new folder with the permissions ``mkdir`` gives (``mkdtemp`` makes it private)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    return folder


def _missing_parents(folder):
    missing = []
    for parent in folder.parents:
        if parent.exists():
            break
        missing.append(parent)
    return missing


@contextmanager
def staged_folder(folder, overwrite):
    """Yield an empty folder to write into; move it to ``folder`` when the block ends.

    Parameters
    ----------
    folder : str or path-like
        The target. Its parent folders are made when missing (and removed again when
        the block fails).
    overwrite : bool
        Whether an existing non-empty ``folder`` may be replaced (as a whole).

    Yields
    ------
    staging : Path
        A new hidden folder beside ``folder``. When the block ends normally it becomes
        ``folder`` in one step; when it raises (or is interrupted) it is removed and
        ``folder`` is left as it was.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skyield.utils import staged_folder
    >>> root = Path(tempfile.mkdtemp())
    >>> with staged_folder(root / "run", overwrite=False) as folder:
    ...     _ = (folder / "results.json").write_text("{}")
    ...     (root / "run").exists()
    False
    >>> sorted(p.name for p in (root / "run").iterdir())
    ['results.json']
    """
    target = check_output_target(folder, overwrite).absolute()
    created = _missing_parents(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = None
    try:
        staging = _new_folder(target.parent, f".{target.name}.partial-")
        yield staging
        check_output_target(target, overwrite)
        _move_into_place(staging, target)
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        for parent in created:
            if parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
        raise
