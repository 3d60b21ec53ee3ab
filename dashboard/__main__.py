"""Command line: `python -m dashboard summary --preset book`.

Subcommands:
  summary   the network's layers as `model.summary()` shows them, with receptive fields

Invalid input exits with status 2 and the same message the app shows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from dashboard.spec import PRESETS, NetworkSpec, SpecError

EXIT_BAD_INPUT = 2


def parse_spec(args: argparse.Namespace) -> NetworkSpec:
    """The network from `--spec JSON_OR_PATH` or `--preset NAME` (default: book)."""
    if getattr(args, "spec", None):
        text = args.spec
        if not text.lstrip().startswith("{"):
            path = Path(text)
            try:
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="python -m dashboard", description="ConvNet Explorer from the command line.")
    sub = parser.add_subparsers(dest="command", required=True)

    summary = sub.add_parser("summary", help="layers, output shapes, parameters and receptive fields")
    add_spec_arguments(summary)
    summary.add_argument("--json", action="store_true", help="print JSON instead of a table")
    summary.set_defaults(func=cmd_summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SpecError as err:
        print(f"error: invalid network: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
