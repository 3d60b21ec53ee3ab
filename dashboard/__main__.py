"""Command line: `python -m dashboard summary --preset book`.

Subcommands:
  summary   the network's layers as `model.summary()` shows them, with receptive fields
  train     train a network through the model cache (a cached run is not trained again)
  warm      train a grid of runs into the cache ahead of a workshop, skipping cached ones
  cache     list, verify or prune the model cache

Invalid input exits with status 2 and the same message the app shows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from dashboard.spec import MAX_SPEC_CHARS, PRESETS, NetworkSpec, SpecError

EXIT_BAD_INPUT = 2


def parse_spec(args: argparse.Namespace) -> NetworkSpec:
    """The network from `--spec JSON_OR_PATH` or `--preset NAME` (default: book)."""
    if getattr(args, "spec", None):
        text = args.spec
        if not text.lstrip().startswith("{"):
            path = Path(text)
            try:
                if path.stat().st_size > 4 * MAX_SPEC_CHARS:
                    raise SpecError([f"spec file {path} is too large ({path.stat().st_size:,} bytes)"])
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                raise SpecError([f"cannot read spec file {path}: {err}"]) from None
        return NetworkSpec.from_json(text)
    return PRESETS[args.preset]


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    """`--preset` / `--spec`, shared by every subcommand that takes a network."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--preset", choices=sorted(PRESETS), default="book", help="a preset network")
    group.add_argument("--spec", metavar="JSON_OR_PATH", help="a network as JSON, or a path to a JSON file")


def format_table(rows: list, total: int) -> str:
    """A text table in the spirit of `model.summary()`."""
    header = ("Layer (type)", "Output Shape", "Param #", "RF", "Jump")
    lines = [
        (
            f"{r.name} ({r.type})",
            str(r.output_shape),
            f"{r.params:,}",
            f"{r.receptive_field}",
            "-" if r.jump is None else str(r.jump),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]

    def fmt(row: tuple[str, ...]) -> str:
        left = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        right = [cell.rjust(width) for cell, width in zip(row[2:], widths[2:])]
        return "  ".join(left + right)

    rule = "-" * len(fmt(header))
    return "\n".join([rule, fmt(header), rule, *map(fmt, lines), rule, f"Total params: {total:,}"])


def cmd_summary(args: argparse.Namespace) -> int:
    from dashboard.model import summarize  # imports TensorFlow

    spec = parse_spec(args)
    rows = summarize(spec)
    total = sum(r.params for r in rows)
    if args.json:
        print(json.dumps({"layers": [r.to_dict() for r in rows], "total_params": total}, indent=2))
    else:
        print(format_table(rows, total))
    return 0


# --- training and the model cache ---------------------------------------------------------


def _load_data(source: str):
    """MNIST from `--data` (auto, embedded or a path); `DataError` on a bad file."""
    from dashboard.data import load_mnist

    data = load_mnist(source)
    for note in data.notes:
        print(f"note: {note}", file=sys.stderr)
    return data


def _train_settings(args: argparse.Namespace):
    """The training preset with the command line's overrides."""
    from dashboard.training import TRAIN_PRESETS, TrainSettings

    values = TRAIN_PRESETS[args.train_preset].to_dict()
    overrides = {
        "epochs": args.epochs, "seed": args.seed, "batch_size": args.batch_size,
        "optimizer": args.optimizer, "learning_rate": args.learning_rate, "train_size": args.train_size,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return TrainSettings.from_dict(values)


class _TextProgress:
    """A one-line progress bar on stderr, redrawn in place."""

    def __init__(self, prefix: str = "", width: int = 30):
        self.prefix, self.width = prefix, width
        self.tty = sys.stderr.isatty()
        self.last_epoch = 0

    def batch(self, p) -> None:
        filled = int(round(p.fraction * self.width))
        line = (
            f"{self.prefix}[{'#' * filled}{'.' * (self.width - filled)}] epoch {p.epoch}/{p.epochs} "
            f"batch {p.batch}/{p.batches} loss {p.loss:.4f} acc {p.accuracy:.4f} {p.seconds:.0f}s"
        )
        if self.tty:
            print("\r" + line, end="", file=sys.stderr, flush=True)

    def epoch(self, p) -> None:
        val = p.history["val_accuracy"][-1]
        end = "\n" if self.tty else ""
        print(f"{end}{self.prefix}epoch {p.epoch}/{p.epochs}: val_accuracy {val:.4f} ({p.seconds:.0f}s)", file=sys.stderr)

    def queued(self, message: str) -> None:
        print(f"{self.prefix}{message}", file=sys.stderr)


def cmd_train(args: argparse.Namespace) -> int:
    from dashboard.cache import ModelCache
    from dashboard.runs import get_or_train

    spec = parse_spec(args)
    settings = _train_settings(args)
    data = _load_data(args.data)
    cache = ModelCache()
    progress = _TextProgress()
    print(f"training {spec.describe()} · {settings.describe()} on {data.label}", file=sys.stderr)
    record, hit = get_or_train(spec, settings, data, cache, on_batch=progress.batch, on_epoch=progress.epoch,
                               on_queued=progress.queued)
    for problem in cache.take_problems():
        print(f"warning: {problem}", file=sys.stderr)
    out = {
        "key": record.key,
        "cache_hit": hit,
        "history": record.history,
        "test_accuracy": record.test_accuracy,
        "train_seconds": record.train_seconds,
        "params": record.params,
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        state = "from the cache" if hit else f"trained in {record.train_seconds:.1f} s"
        print(f"run {record.key} ({state}): test accuracy {record.test_accuracy:.4f}, "
              f"val accuracy {record.val_accuracy:.4f}, {record.params:,} parameters")
    return 0


def cmd_warm(args: argparse.Namespace) -> int:
    from dashboard.cache import ModelCache
    from dashboard.runs import get_or_train, load_grid

    grid = load_grid(args.grid)
    data = _load_data(args.data)
    cache = ModelCache()
    print(f"warming {len(grid)} run(s) on {data.label} into {cache.root}", file=sys.stderr)
    trained = cached = 0
    for i, (label, spec, settings) in enumerate(grid, start=1):
        prefix = f"[{i}/{len(grid)}] {label}: "
        if cache.get(cache.key(spec, settings, data.fingerprint)) is not None:
            print(f"{prefix}cached, skipped", file=sys.stderr)
            cached += 1
            continue
        progress = _TextProgress(prefix)
        record, hit = get_or_train(spec, settings, data, cache, on_batch=progress.batch, on_epoch=progress.epoch,
                                   on_queued=progress.queued)
        cached += hit
        trained += not hit
        print(f"{prefix}{'cached' if hit else 'trained'}: test accuracy {record.test_accuracy:.4f} "
              f"({record.train_seconds:.0f} s) run {record.key}", file=sys.stderr)
    for problem in cache.take_problems():
        print(f"warning: {problem}", file=sys.stderr)
    print(f"done: {trained} trained, {cached} already cached")
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    from dashboard.cache import ModelCache

    cache = ModelCache()
    if args.action == "list":
        runs, problems = cache.scan()
        if args.json:
            print(json.dumps([r.to_dict() for r in runs], indent=2))
        else:
            print(f"{len(runs)} run(s); written runs in {cache.root} use {cache.size_bytes() / 2**20:.1f} MB "
                  f"of {cache.max_bytes / 2**20:.0f} MB")
            for r in runs:
                side, channels = r.final_map
                print(f"{r.key}  {'shipped' if r.shipped else 'cached '}  test {r.test_accuracy:.4f}  "
                      f"val {r.val_accuracy:.4f}  {r.params:>9,} params  {side}x{side}x{channels}  "
                      f"{r.train_seconds:6.1f}s  {r.data_source:11s} {r.network_label()} · {r.training_label()}")
        for problem in problems:
            print(f"warning: {problem}", file=sys.stderr)
        return 0
    if args.action == "verify":
        report = cache.verify()
        print(f"{len(report.ok)} sound, {len(report.damaged)} damaged (set aside)")
        for message in report.damaged:
            print(f"damaged: {message}")
        return 1 if report.damaged else 0
    report = cache.prune()
    for item in report.removed:
        print(f"removed {item}")
    print(f"{len(report.removed)} removed; {len(report.ok)} run(s) left using {report.total_mb:.1f} MB")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="python -m dashboard", description="ConvNet Explorer from the command line.")
    sub = parser.add_subparsers(dest="command", required=True)

    summary = sub.add_parser("summary", help="layers, output shapes, parameters and receptive fields")
    add_spec_arguments(summary)
    summary.add_argument("--json", action="store_true", help="print JSON instead of a table")
    summary.set_defaults(func=cmd_summary)

    from dashboard.training import OPTIMIZERS, TRAIN_PRESETS  # no TensorFlow: cheap

    train = sub.add_parser("train", help="train a network through the model cache")
    add_spec_arguments(train)
    train.add_argument("--train-preset", choices=sorted(TRAIN_PRESETS), default="book", help="training settings")
    train.add_argument("--data", default="auto", metavar="auto|embedded|PATH", help="MNIST source (default auto)")
    train.add_argument("--epochs", type=int, help="override the preset's epochs (1-20)")
    train.add_argument("--seed", type=int, help="override the seed (default 0)")
    train.add_argument("--batch-size", type=int, help="override the batch size")
    train.add_argument("--optimizer", choices=OPTIMIZERS, help="override the optimizer")
    train.add_argument("--learning-rate", type=float, help="override the learning rate")
    train.add_argument("--train-size", type=int, help="train on the first N training images")
    train.add_argument("--json", action="store_true", help="print the result as JSON")
    train.set_defaults(func=cmd_train)

    warm = sub.add_parser("warm", help="train a grid of runs into the cache, skipping cached ones")
    warm.add_argument("--grid", default="workshop", metavar="FILE_OR_NAME",
                      help="a grid JSON file, or a built-in grid name (workshop: every preset, fast training)")
    warm.add_argument("--data", default="auto", metavar="auto|embedded|PATH", help="MNIST source (default auto)")
    warm.set_defaults(func=cmd_warm)

    cache = sub.add_parser("cache", help="list, verify or prune the model cache")
    cache.add_argument("action", choices=("list", "verify", "prune"))
    cache.add_argument("--json", action="store_true", help="list: print the records as JSON")
    cache.set_defaults(func=cmd_cache)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    from dashboard.cache import CacheError
    from dashboard.data import DataError
    from dashboard.runs import GridError
    from dashboard.training import SettingsError

    try:
        return args.func(args)
    except SpecError as err:
        print(f"error: invalid network: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (DataError, SettingsError, GridError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except CacheError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: nothing was stored for the unfinished run", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
