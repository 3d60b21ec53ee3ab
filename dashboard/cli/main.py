"""Command line: `python -m dashboard summary --preset book`; the parser and the exit statuses.

Subcommands:
  summary   the network's layers as `model.summary()` shows them, with receptive fields
            (`--model PATH`: a .keras/.h5 file, inspected as data, never run)
  import    add a .keras/.h5 model file to the cache as a run, measured on the test set
  train     train a network through the model cache (a cached run is not trained again)
  warm      train a grid of runs into the cache ahead of a workshop, skipping cached ones
  cache     list, verify or prune the model cache
  cluster   `cluster certs DIR`: certificates for a workshop's Dask cluster with TLS

Invalid input exits with status 2 and the same message the app shows.
"""

from __future__ import annotations

import argparse
import os
import sys

from dashboard.cli.commands import (
    EXIT_BAD_INPUT,
    add_spec_arguments,
    cmd_cache,
    cmd_cluster_certs,
    cmd_import,
    cmd_summary,
    cmd_train,
    cmd_warm,
)
from dashboard.network.spec import SpecError

MAX_CLI_SEEDS = 10


def _seed_count(text: str) -> int:
    """`--seeds`: a whole number from 1 to MAX_CLI_SEEDS."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds takes a whole number, not {text[:20]!r}") from None
    if not 1 <= value <= MAX_CLI_SEEDS:
        raise argparse.ArgumentTypeError(f"--seeds must be 1 to {MAX_CLI_SEEDS}, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="python -m dashboard", description="ConvNet Explorer from the command line.")
    sub = parser.add_subparsers(dest="command", required=True)

    summary = sub.add_parser("summary", help="layers, output shapes, parameters and receptive fields")
    add_spec_arguments(summary)
    summary.add_argument("--model", metavar="PATH", help="a .keras or .h5 model file (read as data, never run)")
    summary.add_argument("--json", action="store_true", help="print JSON instead of a table")
    summary.set_defaults(func=cmd_summary)

    imported = sub.add_parser("import", help="add a .keras/.h5 model file to the cache as a run")
    imported.add_argument("path", help="the model file")
    imported.add_argument("--data", default="auto", metavar="auto|embedded|PATH", help="MNIST source (default auto)")
    imported.add_argument("--json", action="store_true", help="print the record as JSON")
    imported.set_defaults(func=cmd_import)

    from dashboard.training.train_settings import OPTIMIZERS, TRAIN_PRESETS

    train = sub.add_parser("train", help="train a network through the model cache")
    add_spec_arguments(train)
    train.add_argument("--train-preset", choices=sorted(TRAIN_PRESETS), default="book", help="training settings")
    train.add_argument("--data", default="auto", metavar="auto|embedded|PATH", help="MNIST source (default auto)")
    train.add_argument("--epochs", type=int, help="override the preset's epochs (1-20)")
    train.add_argument("--seed", type=int, help="override the seed (default 0); with --seeds, the first seed")
    train.add_argument("--seeds", type=_seed_count, default=1, metavar="N",
                       help="train seeds SEED to SEED+N-1 and report their spread (1-10, default 1)")
    train.add_argument("--batch-size", type=int, help="override the batch size")
    train.add_argument("--optimizer", choices=OPTIMIZERS, help="override the optimizer")
    train.add_argument("--learning-rate", type=float, help="override the learning rate")
    train.add_argument("--train-size", type=int, help="train on the first N training images")
    train.add_argument("--label-smoothing", type=float, help="override the label smoothing (0-0.3)")
    train.add_argument("--json", action="store_true", help="print the result as JSON")
    train.set_defaults(func=cmd_train)

    warm = sub.add_parser("warm", help="train a grid of runs into the cache, skipping cached ones")
    warm.add_argument("--grid", default="workshop", metavar="FILE_OR_NAME",
                      help="a grid JSON file, or a built-in grid name (workshop: every preset, fast training)")
    warm.add_argument("--data", default="auto", metavar="auto|embedded|PATH", help="MNIST source (default auto)")
    warm.add_argument("--seeds", type=_seed_count, default=1, metavar="N",
                      help="train every run of the grid with N seeds (1-10, default 1)")
    warm.set_defaults(func=cmd_warm)

    cache = sub.add_parser("cache", help="list, verify or prune the model cache")
    cache.add_argument("action", choices=("list", "verify", "prune"))
    cache.add_argument("--json", action="store_true", help="list: print the records as JSON")
    cache.set_defaults(func=cmd_cache)

    from dashboard.jobs.cluster_certs import DEFAULT_DAYS

    cluster = sub.add_parser("cluster", help="a workshop's Dask cluster: certificates for TLS")
    cluster_sub = cluster.add_subparsers(dest="cluster_command", required=True)
    certs = cluster_sub.add_parser("certs", help="write a new certificate authority and the scheduler's, "
                                                 "workers' and app's certificates and keys into DIR")
    certs.add_argument("directory", metavar="DIR", help="a new (or empty) directory: never overwritten")
    certs.add_argument("--host", action="append", default=[], metavar="NAME",
                       help="a host name or IP address for the certificates (repeatable; Dask does not check them)")
    certs.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"days until they expire (default {DEFAULT_DAYS})")
    certs.set_defaults(func=cmd_cluster_certs)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    from dashboard.jobs.job_status import JobLimitError
    from dashboard.mnist.data import DataError
    from dashboard.modelfiles.modelfile import ModelFileError
    from dashboard.store.cache import CacheError
    from dashboard.training.grids import GridError
    from dashboard.training.train_settings import SettingsError

    try:
        return args.func(args)
    except SpecError as err:
        print(f"error: invalid network: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ModelFileError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (DataError, SettingsError, GridError, JobLimitError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except CacheError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: nothing was stored for the unfinished run", file=sys.stderr)
        return 130

