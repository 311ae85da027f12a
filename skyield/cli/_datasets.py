"""``skyield datasets``: list the bundled datasets or summarise one."""

import pandas as pd

from skyield.datasets import describe_dataset, list_datasets


def add_datasets_parser(commands, parents=()):
    parser = commands.add_parser(
        "datasets",
        help="list the bundled datasets, or summarise one",
        description=(
            "Without NAME, list every bundled dataset with its span, frequency and source. "
            "With NAME, print its columns with their first and last dates and missing counts."
        ),
        parents=list(parents),
    )
    parser.add_argument("name", nargs="?", help="dataset to summarise (see the list)")
    parser.add_argument(
        "--freq", choices=("daily", "weekly", "monthly"),
        help="frequency for datasets that offer several (treasury_cmt, gsw_zero)",
    )
    parser.set_defaults(run=run_datasets)


def run_datasets(args):
    if args.name is None:
        if args.freq is not None:
            raise ValueError("--freq applies to one dataset: give its NAME")
        with pd.option_context("display.width", 200, "display.max_colwidth", 80):
            print(list_datasets().to_string())
        return 0
    kwargs = {} if args.freq is None else {"freq": args.freq}
    print(describe_dataset(args.name, **kwargs))
    return 0
