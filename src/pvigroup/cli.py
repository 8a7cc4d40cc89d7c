"""The ``pvigroup`` command: helpers around the workflow (the workflow itself is ``snakemake``).

    pvigroup estimate [--configfile FILE [FILE ...]] [--directory DIR] [--device gpu|cpu] [--csv OUT]

prints the jobs per stage and the estimated device-hours of a configured run before anything
trains (see :mod:`pvigroup.estimate`).

    pvigroup suspects --model M --task T [--results results] [-n 20]

prints the lowest-PVI instances of a task (suspect labels) from the PVI and prepared parquet
files, without Snakemake (see :mod:`pvigroup.diagnostics`).
"""

from __future__ import annotations

import argparse
import sys

from pvigroup.errors import PvigroupError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pvigroup", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    est = sub.add_parser("estimate", help="jobs and device-hours per stage, before a run")
    est.add_argument("--configfile", "--configfiles", nargs="+", default=None, metavar="FILE",
                     help="config file(s), merged in order as snakemake --configfile A B merges "
                          "them (default: config/config.yaml, the demo)")
    est.add_argument("--device", choices=("gpu", "cpu"), default=None,
                     help="price training with GPU or CPU step times (default: cpu when the "
                          "config sets engine.device: cpu, else gpu)")
    est.add_argument("--directory", default=".",
                     help="the workflow's working directory (snakemake --directory): its local "
                          "task files, prepared data and group files are read")
    est.add_argument("--data-dir", default=None,
                     help="prepared tasks (default DIR/results/data): split sizes and lengths")
    est.add_argument("--csv", default=None, help="also write one row per rule to this csv")
    sus = sub.add_parser("suspects", help="a task's lowest-PVI instances (suspect labels)")
    sus.add_argument("--model", required=True, help="model key (results/pvi/{model}/)")
    sus.add_argument("--task", required=True, help="task id")
    sus.add_argument("--results", default="results", help="the results folder of a run")
    sus.add_argument("-n", type=int, default=20, help="how many instances (default 20)")
    args = parser.parse_args(argv)
    if args.command == "suspects":
        return _suspects(args)
    try:
        from pvigroup.estimate import estimate, load_config

        config = load_config(args.configfile)
        device = args.device or ("cpu" if config["engine"]["device"] == "cpu" else "gpu")
        result = estimate(config, device=device, data_dir=args.data_dir,
                          workdir=args.directory)
    except PvigroupError as err:
        print(f"pvigroup error: {err}", file=sys.stderr)
        return 1
    print(result.to_text())
    if args.csv:
        result.frame().to_csv(args.csv, index=False)
    return 0


def _suspects(args: argparse.Namespace) -> int:
    try:
        from pvigroup.diagnostics import print_suspects

        table = print_suspects(args.model, args.task, results=args.results, n=args.n)
    except PvigroupError as err:
        print(f"pvigroup error: {err}", file=sys.stderr)
        return 1
    print(table.to_string(index=False) if len(table) else "no instances")
    return 0


if __name__ == "__main__":
    sys.exit(main())
