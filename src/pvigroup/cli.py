"""The ``pvigroup`` command: helpers around the workflow (the workflow itself is ``snakemake``).

    pvigroup estimate [--configfile FILE] [--device gpu|cpu] [--csv OUT]

prints the jobs per stage and the estimated device-hours of a configured run before anything
trains (see :mod:`pvigroup.estimate`).
"""

from __future__ import annotations

import argparse
import sys

from pvigroup.errors import PvigroupError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pvigroup", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    est = sub.add_parser("estimate", help="jobs and device-hours per stage, before a run")
    est.add_argument("--configfile", default=None,
                     help="config file (default: config/config.yaml, the demo)")
    est.add_argument("--device", choices=("gpu", "cpu"), default=None,
                     help="price training with GPU or CPU step times (default: cpu when the "
                          "config sets engine.device: cpu, else gpu)")
    est.add_argument("--data-dir", default="results/data",
                     help="prepared tasks (their task.json gives the real split sizes)")
    est.add_argument("--csv", default=None, help="also write one row per rule to this csv")
    args = parser.parse_args(argv)
    try:
        from pvigroup.estimate import estimate, load_config

        config = load_config(args.configfile)
        device = args.device or ("cpu" if config["engine"]["device"] == "cpu" else "gpu")
        result = estimate(config, device=device, data_dir=args.data_dir)
    except PvigroupError as err:
        print(f"pvigroup: {err}", file=sys.stderr)
        return 1
    print(result.to_text())
    if args.csv:
        result.frame().to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
