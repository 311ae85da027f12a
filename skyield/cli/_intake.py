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

from skyield.utils import (
    FREQUENCIES,
    check_family_panel,
    check_panel,
    check_units,
    infer_frequency,
)

__all__ = ["ALL", "BUNDLED", "BundledDataset", "CommandData", "add_data_arguments", "load_data",
           "resolve_datasets"]



@dataclass(frozen=True)
class BundledDataset:
    """A curve dataset that ships with the package, with the defaults of its benchmark.

    ``maturities``, ``start`` and ``test_start`` apply when the command line does not give
    them; ``loader`` names the function of :mod:`skyield.datasets` that reads it
    (``load_<loader>``), ``aliases`` other names it answers to. Without ``--models`` the
    run on the dataset adds the models ``added`` to the defaults and leaves out those of
    ``left_out``, each with the reason the report gives, unless ``--full`` is given;
    ``families`` is the default selection of curves of a multi-curve dataset
    (``--families all``: every curve).
    """

    name: str
    loader: str
    description: str
    frequencies: tuple
    maturities: str
    start: str
    test_start: str
    aliases: tuple = ()
    shown_family: str = None
    added: tuple = ()
    left_out: dict = field(default_factory=dict)
    families: str = None
    end: str = None


#: The bundled curve datasets of the benchmark, in the order ``all`` runs them.
BUNDLED = {dataset.name: dataset for dataset in [
    BundledDataset(
        "us-zero", "gsw_zero", "U.S. zero-coupon yields (Gürkaynak, Sack and Wright)",
        ("daily", "weekly", "monthly"), "1,2,3,5,7,10", "1972-01-01", "2000-01-01",
        aliases=("gsw_zero",)),
    # 3Y and 7Y stop at 2024 and 1M starts in 2001 (SOURCES.md); 3M and 6M start in
    # September 1981. The costliest models run on the U.S. zero curves by default, which
    # keeps the default run of every dataset under 10 minutes on 2 cores.
    BundledDataset(
        "treasury", "treasury_cmt", "U.S. Treasury constant-maturity par yields (FRED)",
        ("daily", "weekly", "monthly"), "3M,6M,1Y,2Y,5Y,10Y,20Y,30Y", "1982-01-01",
        "2000-01-01", aliases=("treasury_cmt",),
        left_out={name: "the costliest model of the run (a fit of 1.5 to 3 minutes over "
                        "26 refits), run by default on us-zero only; --full runs it here"
                  for name in ("nnss", "factor-transformer")}),
    # The span and maturities of skyield.datasets.eiopa_benchmark_selection (every family
    # published: a balanced panel); the first origin is December 2020, the forecast origin
    # t0 of seed 001's tables. The default curves are those of the G10 currencies (euro,
    # pound, U.S. dollar, yen, Swiss franc, Canadian, Australian and New Zealand dollars,
    # Swedish and Norwegian kronor).
    BundledDataset(
        "eiopa", "eiopa_curves", "EIOPA risk-free spot curves without volatility "
        "adjustment, one family per distinct curve", ("monthly",), "1,2,3,5,7,10,15,20,30",
        "2014-12-01", "2020-12-01", end="2024-08-31", aliases=("eiopa_curves",), shown_family="EU", added=("yc-att",),
        families="EU,GB,US,JP,CH,CA,AU,NZ,SE,NO",
        left_out={
            "dns-kalman": "one maximum-likelihood fit per curve at every refit (6 min for "
                          "the 33 curves); --full runs it",
            "nnss": "one model per curve, each a maximum a posteriori fit of its own at "
                    "every refit; --full runs it",
            "factor-transformer": "one model per curve, each trained at every refit; "
                                  "--full runs it"}),
]}
#: ``--dataset all`` runs every bundled dataset.
ALL = "all"
#: The first forecast origin of a user's CSV file when ``--test-start`` is not given.
CSV_TEST_START = "2000-01-01"
BUNDLED_FREQ = "monthly"
UNITS = ("percent", "decimal")


def _dataset_help():
    lines = [f"{name} ({dataset.loader}: {dataset.description})"
             for name, dataset in BUNDLED.items()]
    return "; ".join(lines)


def add_data_arguments(parser):
    """Declare the data options (dataset, frequency, span, maturities, dates, units)."""
    parser.add_argument(
        "--dataset", default=ALL,
        help=f"'{ALL}' (every bundled curve dataset, one section each), one or several "
             f"bundled datasets separated by commas: {_dataset_help()}; or a CSV file: a "
             "header line, dates in the first column, one column per maturity (e.g. 3M, 2Y, "
             "DGS10, SVENY05), separated by commas with a decimal point "
             f"(default: {ALL})")
    parser.add_argument(
        "--freq", default=None, choices=FREQUENCIES,
        help=f"frequency of a bundled dataset (default: {BUNDLED_FREQ}); for a CSV file it "
             "is read from the dates, and a --freq that disagrees with them is an error")
    parser.add_argument(
        "--maturities", default=None,
        help="comma-separated maturities (labels or years) to use, or 'all' (default: each "
             "bundled dataset's own, " + "; ".join(
                 f"{name} {dataset.maturities}" for name, dataset in BUNDLED.items())
             + "; every column of a CSV file)")
    parser.add_argument(
        "--start", default=None,
        help="first date used, as YYYY-MM-DD, YYYY-MM or YYYY (the first day of the month "
             "or year; other formats are refused rather than guessed) (default: each "
             "bundled dataset's own, " + "; ".join(
            f"{name} {dataset.start or 'its first date'}" for name, dataset in BUNDLED.items())
            + "; the first date of a CSV file)")
    parser.add_argument(
        "--end", default=None,
        help="last date used, as YYYY-MM-DD, YYYY-MM or YYYY (the last day of the month or "
             "year) (default: the last; eiopa " + str(BUNDLED["eiopa"].end) + ")")
    parser.add_argument(
        "--families", default=None,
        help="comma-separated curves of a multi-curve dataset, or 'all' (default: " + "; ".join(
            f"{name} {dataset.families}" for name, dataset in BUNDLED.items()
            if dataset.families) + ")")
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


def resolve_datasets(text):
    """The datasets ``--dataset`` names, in order: bundled names (aliases resolved) or one
    CSV file's path."""
    aliases = {alias: name for name, dataset in BUNDLED.items() for alias in dataset.aliases}
    text = str(text).strip()
    if text == ALL:
        return list(BUNDLED)
    parts = _listed(text, "dataset")
    if not parts:
        raise ValueError("--dataset is empty")
    known = [aliases.get(part, part) for part in parts]
    if all(name in BUNDLED for name in known):
        return list(dict.fromkeys(known))
    if len(parts) == 1:
        return parts  # a user's file, checked when it is read
    unknown = [part for part, name in zip(parts, known) if name not in BUNDLED]
    raise ValueError(
        f"--dataset: {', '.join(map(repr, unknown))} is not a bundled curve dataset "
        f"({', '.join(BUNDLED)}); a CSV file is given alone")


@dataclass(frozen=True)
class CommandData:
    """The panel a command runs on, and what it is.

    Attributes
    ----------
    panel : DataFrame of shape (n_dates, n_maturities)
        Yields indexed by date, or by a (family, date) MultiIndex for a multi-curve
        dataset; columns the maturities in years.
    name : str
        The dataset's name in the run: a bundled dataset's name or the file's path.
    source : str
        Where the data comes from: the loader of :mod:`skyield.datasets` or the file.
    labels : list of str
        The maturities as labelled in the source.
    frequency : str
        Frequency of the dates (see :func:`skyield.utils.infer_frequency`).
    units : str
        How the units were taken.
    test_start : str
        The first forecast origin (``--test-start``, else the dataset's own).
    shown_family : str or None
        The family whose fan chart and fitted model the report shows (multi-curve panels;
        None: the first).
    settings : dict
        Further facts worth recording (date format, inserted dates, missing values).
    """

    panel: pd.DataFrame
    name: str
    source: str
    labels: list
    frequency: str
    units: str
    test_start: str
    shown_family: str = None
    settings: dict = field(default_factory=dict)

    @property
    def maturities(self):
        return np.asarray(self.panel.columns, dtype=float)

    @property
    def dates(self):
        """The dates of the panel (of every family), sorted and unique."""
        return self.panel.index.get_level_values(-1).unique().sort_values()

    @property
    def families(self):
        """The curve families of a multi-curve panel, in order (None for one panel)."""
        if not isinstance(self.panel.index, pd.MultiIndex):
            return None
        return list(self.panel.index.get_level_values(0).unique())

    @property
    def family(self):
        """The family the report shows (None for one panel)."""
        if self.families is None:
            return None
        return self.shown_family if self.shown_family in self.families else self.families[0]

    @property
    def curve(self):
        """The panel of :attr:`family` (the whole panel for one curve)."""
        return self.panel if self.family is None else self.panel.xs(self.family, level=0)

    @property
    def span(self):
        return f"{self.dates[0]:%Y-%m-%d} .. {self.dates[-1]:%Y-%m-%d}"

    def describe(self):
        """What was used, in the order of the printed header and ``run.json``."""
        described = {
            "dataset": self.name, "source": self.source, "frequency": self.frequency,
            "maturities": ", ".join(self.labels),
            "maturities (years)": ", ".join(f"{m:g}" for m in self.maturities),
            "span": self.span, "rows": len(self.panel), "units": self.units,
            "test start": self.test_start,
        }
        if self.families is not None:
            described["families"] = f"{len(self.families)}: {', '.join(self.families)}"
        return {**described, **self.settings}


def _date_option(value, option, side="lower"):
    """The text of ``--start`` or ``--end``, checked by the loaders' own rule (ISO dates,
    ``YYYY-MM`` or ``YYYY``; ``01/02/2005`` is refused, not guessed)."""
    if value is None:
        return None
    from skyield.datasets._selection import date_bound

    date_bound(value, f"--{option}", side)
    return value


def _label(column):
    """A column as labelled in the source: years as a number (``3``), else its text."""
    return f"{column:g}" if isinstance(column, (float, np.floating)) else str(column)


def _listed(text, option):
    """The items of the comma-separated ``--option``, stripped: none for blank text; an
    empty item among others (``1,,12``, a trailing comma) is an error, never dropped."""
    parts = [part.strip() for part in str(text).split(",")]
    if not any(parts):
        return []
    if not all(parts):
        raise ValueError(f"--{option} {text!r} has an empty item (position "
                         f"{parts.index('') + 1}); separate the items by single commas")
    return parts


def _selected_maturities(text):
    if text is None or text == "all":
        return None
    values = _listed(text, "maturities")
    if not values:
        raise ValueError("--maturities is empty; give labels or years, or 'all'")
    return values


def _bundled(args, dataset, start, end):
    import skyield.datasets

    if args.date_format is not None:
        raise ValueError(f"--date-format applies to a CSV file; {dataset.name} is bundled")
    freq = args.freq or BUNDLED_FREQ
    if freq not in dataset.frequencies:
        raise ValueError(f"--freq {freq}: {dataset.name} ({dataset.loader}) comes "
                         f"{', '.join(dataset.frequencies)}")
    loader = getattr(skyield.datasets, f"load_{dataset.loader}")
    kwargs = {"start": start or dataset.start, "end": end or dataset.end,
              "maturities": _selected_maturities(args.maturities or dataset.maturities)}
    if dataset.families is not None:
        families = args.families or dataset.families
        kwargs["families"] = None if families == "all" else _listed(families, "families")
    if len(dataset.frequencies) > 1:
        kwargs["freq"] = freq
    try:
        frame = loader(**kwargs)
    except ValueError as error:
        raise ValueError(f"{dataset.name}: {error}") from None
    return frame, freq, {}


def _user_file(args, start, end):
    from skyield.datasets import read_panel_csv

    path = Path(args.dataset)
    if not path.is_file():
        raise ValueError(
            f"dataset {args.dataset!r} is neither a bundled curve dataset "
            f"({', '.join(BUNDLED)}, or '{ALL}') nor an existing CSV file")
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
    column = frame.columns[col]  # years as a number (3), a file's labels quoted ('5Y')
    column = _label(column) if isinstance(column, (float, np.floating)) else repr(column)
    where = frame.index[row]
    where = (f"family {where[0]!r}, {where[1]:%Y-%m-%d}" if isinstance(where, tuple)
             else f"{where:%Y-%m-%d}")
    raise ValueError(
        f"{source} has {int(missing.sum())} missing value(s); the first on "
        f"{where}, column {column}. Choose --maturities "
        f"and --start/--end without them, or --allow-missing for a model that handles "
        f"missing values (nnss)")


def _checked_maturities(frame, name, allow_missing):
    """The maturities in years of a checked panel (one curve or several families)."""
    missing = "allow" if allow_missing else "raise"
    if isinstance(frame.index, pd.MultiIndex):
        panels = check_family_panel(frame, name=name, missing=missing, need_maturities=True)
        return next(iter(panels.values())).maturities
    return check_panel(frame, name=name, missing=missing, need_maturities=True).maturities


def load_data(args, name=None):
    """Read the dataset ``name`` with the options ``args`` (see :func:`add_data_arguments`).

    Parameters
    ----------
    args : argparse.Namespace
    name : str, default=None
        A bundled dataset's name (see :data:`BUNDLED`) or a CSV file's path; None reads
        ``args.dataset``.

    Returns
    -------
    data : CommandData

    Warns
    -----
    skyield.utils.UnitsWarning
        When the yields look like decimals and ``--units`` is not given.
    """
    name = args.dataset if name is None else name
    start = _date_option(args.start, "start")
    end = _date_option(args.end, "end", side="upper")
    if name in BUNDLED:
        dataset = BUNDLED[name]
        frame, frequency, settings = _bundled(args, dataset, start, end)
        source, test_start = f"skyield.datasets.load_{dataset.loader}", dataset.test_start
        shown = dataset.shown_family
    else:
        frame, frequency, settings = _user_file(args, start, end)
        source, test_start, shown = str(name), CSV_TEST_START, None
    labels = [_label(label) for label in frame.columns]
    _check_missing(frame, name, args.allow_missing)
    maturities = _checked_maturities(frame, name, args.allow_missing)
    units = "percent"
    if args.units == "decimal":
        frame = frame * 100.0
        units = "decimal, multiplied by 100"
    elif args.units is None:
        check_units(frame.to_numpy(dtype=float), name=name)
        units = "percent (checked)"
    if args.allow_missing:
        settings["missing values kept"] = int(frame.isna().to_numpy().sum())
    frame = frame.set_axis(maturities, axis=1)
    return CommandData(panel=frame, name=str(name), source=source, labels=labels,
                       frequency=frequency, units=units,
                       test_start=args.test_start or test_start, shown_family=shown,
                       settings=settings)
