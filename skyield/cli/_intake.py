"""The data of a command: a bundled curve dataset or a user's CSV file, checked at the door.

:func:`add_data_arguments` declares the data options of a command and :func:`load_data`
reads them into a :class:`CommandData`: the panel the models get (columns in years), with
what was used, said exactly (span, frequency, maturities, rows, units), for the printed
header and ``run.json``. A user's CSV file goes through
:func:`skyield.datasets.read_panel_csv` (dates parsed without guessing, in order, evenly
spaced) and is used whole unless ``--start`` or ``--end`` narrow it; the default span and
maturities of the bundled data apply to the bundled data only.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from skyield.utils import FREQUENCIES, check_panel, check_units, infer_frequency

__all__ = ["BUNDLED", "BUNDLED_DEFAULTS", "CommandData", "add_data_arguments", "load_data"]

#: Bundled curve datasets and the frequencies their loaders offer.
BUNDLED = {"treasury_cmt": ("daily", "weekly", "monthly"),
           "gsw_zero": ("daily", "weekly", "monthly")}
#: Defaults that apply to bundled data only (a user's file is used as it is).
BUNDLED_DEFAULTS = {"freq": "monthly", "maturities": "1,2,3,5,7,10", "start": "1972-01-01"}
UNITS = ("percent", "decimal")


def add_data_arguments(parser):
    """Declare the data options (dataset, frequency, span, maturities, dates, units)."""
    parser.add_argument(
        "--dataset", default="gsw_zero",
        help="bundled dataset (treasury_cmt, gsw_zero) or a CSV file: a header line, dates "
             "in the first column, one column per maturity (e.g. 3M, 2Y, DGS10, SVENY05), "
             "separated by commas with a decimal point (default: gsw_zero)")
    parser.add_argument(
        "--freq", default=None, choices=FREQUENCIES,
        help="frequency of a bundled dataset (default: monthly); for a CSV file it is read "
             "from the dates, and a --freq that disagrees with them is an error")
    parser.add_argument(
        "--maturities", default=None,
        help="comma-separated maturities (labels or years) to use, or 'all' (default: "
             f"{BUNDLED_DEFAULTS['maturities']} for bundled data, every column of a CSV file)")
    parser.add_argument(
        "--start", default=None,
        help=f"first date used (default: {BUNDLED_DEFAULTS['start']} for bundled data, the "
             f"first date of a CSV file)")
    parser.add_argument("--end", default=None, help="last date used (default: the last)")
    parser.add_argument(
        "--date-format", default=None,
        help="strftime format of a CSV file's dates, e.g. %%d/%%m/%%Y (default: ISO dates "
             "YYYY-MM-DD only; other formats are refused rather than guessed)")
    parser.add_argument(
        "--units", default=None, choices=UNITS,
        help="units of the yields: 'percent' (no check) or 'decimal' (multiplied by 100 "
             "before use); by default yields that look like decimals get a warning")
    parser.add_argument(
        "--allow-missing", action="store_true",
        help="keep missing values, and the dates a CSV file skips, as missing rows; only "
             "for models that handle missing values (nnss)")


@dataclass(frozen=True)
class CommandData:
    """The panel a command runs on, and what it is.

    Attributes
    ----------
    panel : DataFrame of shape (n_dates, n_maturities)
        Yields indexed by date, columns the maturities in years.
    source : str
        The bundled dataset's name or the file's path.
    labels : list of str
        The maturities as labelled in the source.
    frequency : str
        Frequency of the dates (see :func:`skyield.utils.infer_frequency`).
    units : str
        How the units were taken.
    settings : dict
        Further facts worth recording (date format, inserted dates, missing values).
    """

    panel: pd.DataFrame
    source: str
    labels: list
    frequency: str
    units: str
    settings: dict = field(default_factory=dict)

    @property
    def maturities(self):
        return np.asarray(self.panel.columns, dtype=float)

    @property
    def span(self):
        return f"{self.panel.index[0]:%Y-%m-%d} .. {self.panel.index[-1]:%Y-%m-%d}"

    def describe(self):
        """What was used, in the order of the printed header and ``run.json``."""
        return {
            "dataset": self.source, "frequency": self.frequency,
            "maturities": ", ".join(self.labels),
            "maturities (years)": ", ".join(f"{m:g}" for m in self.maturities),
            "span": self.span, "rows": len(self.panel), "units": self.units,
            **self.settings,
        }


def _date_option(value, option):
    if value is None:
        return None
    try:
        pd.Period(value)
    except (TypeError, ValueError):
        raise ValueError(f"--{option} must be a date such as 2005-01-01, got {value!r}") \
            from None
    return value


def _selected_maturities(text):
    if text is None or text == "all":
        return None
    values = [part.strip() for part in str(text).split(",") if part.strip()]
    if not values:
        raise ValueError("--maturities is empty; give labels or years, or 'all'")
    return values


def _bundled(args, start, end):
    from skyield.datasets import load_gsw_zero, load_treasury_cmt

    if args.date_format is not None:
        raise ValueError(f"--date-format applies to a CSV file; {args.dataset} is bundled")
    freq = args.freq or BUNDLED_DEFAULTS["freq"]
    if freq not in BUNDLED[args.dataset]:
        raise ValueError(f"--freq {freq}: {args.dataset} comes "
                         f"{', '.join(BUNDLED[args.dataset])}")
    loader = {"treasury_cmt": load_treasury_cmt, "gsw_zero": load_gsw_zero}[args.dataset]
    maturities = args.maturities or BUNDLED_DEFAULTS["maturities"]
    frame = loader(freq, start=start or BUNDLED_DEFAULTS["start"], end=end,
                   maturities=_selected_maturities(maturities))
    return frame, freq, {}


def _user_file(args, start, end):
    from skyield.datasets import read_panel_csv

    path = Path(args.dataset)
    if not path.is_file():
        raise ValueError(
            f"dataset {args.dataset!r} is neither a bundled curve dataset "
            f"({', '.join(BUNDLED)}) nor an existing CSV file")
    frame = read_panel_csv(path, date_format=args.date_format, start=start, end=end,
                           maturities=_selected_maturities(args.maturities),
                           missing_dates="insert" if args.allow_missing else "raise")
    frequency = infer_frequency(frame.index)
    if args.freq is not None and frequency != args.freq:
        raise ValueError(
            f"--freq {args.freq}: the dates of {path} are {frequency} ("
            f"{', '.join(f'{d:%Y-%m-%d}' for d in frame.index[:3])}, ...); leave --freq out "
            f"for a CSV file, or give the frequency of its dates")
    return frame, frequency, {"date format": args.date_format or "ISO (YYYY-MM-DD)"}


def _check_missing(frame, source, allow_missing):
    missing = frame.isna().to_numpy()
    if allow_missing or not missing.any():
        return
    row, col = np.argwhere(missing)[0]
    raise ValueError(
        f"{source} has {int(missing.sum())} missing value(s); the first on "
        f"{frame.index[row]:%Y-%m-%d}, column {frame.columns[col]!r}. Choose --maturities "
        f"and --start/--end without them, or --allow-missing for a model that handles "
        f"missing values (nnss)")


def load_data(args):
    """Read the data the options ``args`` name (see :func:`add_data_arguments`).

    Returns
    -------
    data : CommandData

    Warns
    -----
    skyield.utils.UnitsWarning
        When the yields look like decimals and ``--units`` is not given.
    """
    start, end = _date_option(args.start, "start"), _date_option(args.end, "end")
    if args.dataset in BUNDLED:
        frame, frequency, settings = _bundled(args, start, end)
        source = args.dataset
    else:
        frame, frequency, settings = _user_file(args, start, end)
        source = str(args.dataset)
    labels = [f"{label:g}" if isinstance(label, float) else str(label)
              for label in frame.columns]
    _check_missing(frame, source, args.allow_missing)
    panel = check_panel(frame, name=source, missing="allow" if args.allow_missing else "raise",
                        need_maturities=True)
    units = "percent"
    if args.units == "decimal":
        frame = frame * 100.0
        units = "decimal, multiplied by 100"
    elif args.units is None:
        check_units(panel.values, name=source)
        units = "percent (checked)"
    if args.allow_missing:
        settings["missing values kept"] = int(frame.isna().to_numpy().sum())
    frame = frame.set_axis(panel.maturities, axis=1)
    return CommandData(panel=frame, source=source, labels=labels, frequency=frequency,
                       units=units, settings=settings)
