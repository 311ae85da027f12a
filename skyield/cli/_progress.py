"""Progress of ``skyield benchmark``: one bar per model, counting forecast origins.

On a terminal each model gets a tqdm bar; elsewhere (a log file, CI) plain lines report
every tenth of the origins, so that logs stay short; with ``--quiet`` nothing is shown.
"""

import sys

_PLAIN_STEPS = 10


class ModelProgress:
    """Callback for ``backtest(progress=...)`` that shows one model's progress.

    Parameters
    ----------
    label : str
        Shown in front of the bar or line, e.g. ``"[2/7] ns-var"``.
    mode : {"bar", "lines", "off"}
        A tqdm bar, plain lines, or nothing.
    stream : file-like
        Where to write.
    """

    def __init__(self, label, mode, stream):
        self.label = label
        self.mode = mode
        self.stream = stream
        self._bar = None
        self._shown_step = -1

    def __call__(self, done, total):
        if self.mode == "bar":
            self._advance_bar(done, total)
        elif self.mode == "lines":
            step = _PLAIN_STEPS * done // max(total, 1)
            if step > self._shown_step:
                self._shown_step = step
                print(f"{self.label}: {done}/{total} origins", file=self.stream, flush=True)

    def _advance_bar(self, done, total):
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=self.label, unit="origin", file=self.stream,
                             leave=True, dynamic_ncols=True)
        self._bar.update(done - self._bar.n)

    def close(self, message):
        """End the display of this model with a summary ``message``."""
        if self._bar is not None:
            self._bar.set_postfix_str(message, refresh=True)
            self._bar.close()
        elif self.mode == "lines":
            print(f"{self.label}: {message}", file=self.stream, flush=True)


def progress_mode(quiet, stream=None):
    """``"off"`` when quiet, ``"bar"`` on a terminal, ``"lines"`` otherwise."""
    stream = sys.stderr if stream is None else stream
    if quiet:
        return "off"
    isatty = getattr(stream, "isatty", None)
    return "bar" if isatty is not None and isatty() else "lines"
