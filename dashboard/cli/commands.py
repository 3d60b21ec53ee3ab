"""What each subcommand of `python -m dashboard` does (`dashboard.cli.main` parses the arguments).

Invalid input raises the same errors the app shows; `main` turns them into exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from dashboard.network.spec import MAX_SPEC_CHARS, PRESETS, NetworkSpec, SpecError
from dashboard.outside import plain

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
            f"{plain(r.name, 40)} ({r.type})",
            str(tuple(r.output_shape)),
            f"{r.params:,}",
            "-" if r.receptive_field is None else f"{r.receptive_field}",
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


def _read_model_file(path: str) -> bytes:
    """The bytes of a model file, refused (`ModelFileError`) past the upload limit."""
    from dashboard.modelfiles.modelfile import MAX_FILE_BYTES, ModelFileError

    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise ModelFileError(f"the file is {size / 2**20:.1f} MB; at most {MAX_FILE_BYTES // 2**20} MB is accepted")
        with open(path, "rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise ModelFileError(f"cannot read {path}: {err.strerror or err}") from None


def cmd_summary(args: argparse.Namespace) -> int:
    from dashboard.network.summaries import summarize, summary_dict  # pure Python: no weights are allocated

    if args.model:
        from dashboard.modelfiles.modelfile import inspect_model_file
        from dashboard.store.imported import summary_rows

        found = inspect_model_file(_read_model_file(args.model), os.path.basename(args.model))
        rows = summary_rows(found)
        if not found.chain:
            print("note: a branching model: receptive fields and jumps are not computed", file=sys.stderr)
    else:
        rows = summarize(parse_spec(args))
    total = sum(r.params for r in rows)
    if args.json:
        print(json.dumps(summary_dict(rows), indent=2))
    else:
        print(format_table(rows, total))
    return 0


# --- training and the model cache ---------------------------------------------------------


def _load_data(source: str):
    """MNIST from `--data` (auto, embedded or a path); `DataError` on a bad file."""
    from dashboard.mnist.data import load_mnist

    data = load_mnist(source)
    for note in data.notes:
        print(f"note: {note}", file=sys.stderr)
    return data


def _train_settings(args: argparse.Namespace):
    """The training preset with the command line's overrides."""
    from dashboard.training.train_settings import TRAIN_PRESETS, TrainSettings

    values = TRAIN_PRESETS[args.train_preset].to_dict()
    overrides = {
        "epochs": args.epochs, "seed": args.seed, "batch_size": args.batch_size,
        "optimizer": args.optimizer, "learning_rate": args.learning_rate, "train_size": args.train_size,
        "label_smoothing": args.label_smoothing,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return TrainSettings.from_dict(values)


def _settle(manager, statuses) -> int:
    """Close the manager; 2 if a trained run could not be stored, 1 if a job failed, else 0."""
    from dashboard.cli.job_progress import unstored
    from dashboard.jobs.job_manager import DONE

    manager.close()
    problems = unstored(statuses)
    for message in problems:
        print(f"error: {message}", file=sys.stderr)
    failed = [s for s in statuses if s.state != DONE]
    for status in failed:
        print(f"error: {status.label}: {status.describe()}", file=sys.stderr)
    return EXIT_BAD_INPUT if problems else (1 if failed else 0)


def _run_json(record, status) -> dict:
    """One run as `train --json` prints it."""
    return {
        "key": record.key,
        "seed": record.seed,
        "cache_hit": status.cached,
        "stored": status.stored,
        "trained": record.trained,
        "diagnosis": record.diagnosis,
        "dead_channels": record.dead_channels,
        "history": record.history,
        "test_accuracy": record.test_accuracy,
        "train_seconds": record.train_seconds,
        "params": record.params,
        "trained_on": record.trained_on,
        "queued_seconds": record.queued_seconds,
    }


def _run_line(record, cached: bool) -> str:
    """One run as `train` prints it: key, where, accuracy, and the verdict when the training failed."""
    state = "from the cache" if cached else f"trained in {record.train_seconds:.1f} s on {record.trained_on}"
    line = (f"run {record.key} (seed {record.seed}, {state}): test accuracy {record.test_accuracy:.4f}, "
            f"val accuracy {record.val_accuracy:.4f}, {record.params:,} parameters")
    return line if record.trained else f"{line}\n  {record.diagnosis}"


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from dashboard.cli.job_progress import CLI_SESSION, manager_for_cli, watch
    from dashboard.store.cache import ModelCache
    from dashboard.store.seeds import RunGroup

    spec = parse_spec(args)
    settings = _train_settings(args)
    data = _load_data(args.data)
    cache = ModelCache()
    manager = manager_for_cli(cache)
    submitted = []
    for seed in range(settings.seed, settings.seed + args.seeds):
        label = f"{spec.describe()} · {replace(settings, seed=seed).describe()}"
        print(f"training {label} on {data.label}", file=sys.stderr)
        submitted.append((label, manager.submit(spec, replace(settings, seed=seed), data, session=CLI_SESSION, label=label)))
    statuses = watch(manager, submitted)
    for problem in cache.take_problems():
        print(f"warning: {problem}", file=sys.stderr)
    code = _settle(manager, statuses)
    done = [(s.record, s) for s in statuses if s.record is not None]
    if not done:
        return code
    runs = [_run_json(record, status) for record, status in done]
    spread = RunGroup(tuple(record for record, _ in done)).spread
    if args.json:
        summary = {"seeds": spread.total, "trained": spread.n, "failed": spread.failed,
                   "median": None if not spread.n else spread.median,
                   "low": None if not spread.n else spread.low, "high": None if not spread.n else spread.high}
        print(json.dumps(runs[0] if args.seeds == 1 else {**summary, "runs": runs}, indent=2))
    else:
        for record, status in done:
            print(_run_line(record, status.cached))
        if args.seeds > 1:
            print(f"test accuracy: {spread.text()}")
    return code


def cmd_warm(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from dashboard.cli.job_progress import CLI_SESSION, manager_for_cli, watch
    from dashboard.store.cache import ModelCache
    from dashboard.training.grids import load_grid

    grid = [(f"{label} · seed {seed}" if args.seeds > 1 else label, spec, replace(settings, seed=seed))
            for label, spec, settings in load_grid(args.grid)
            for seed in range(settings.seed, settings.seed + args.seeds)]
    data = _load_data(args.data)
    cache = ModelCache()
    print(f"warming {len(grid)} run(s) on {data.label} into {cache.root}", file=sys.stderr)
    manager = manager_for_cli(cache)
    submitted, cached = [], 0
    for i, (label, spec, settings) in enumerate(grid, start=1):
        name = f"[{i}/{len(grid)}] {label}"
        status = manager.submit(spec, settings, data, session=CLI_SESSION, label=name)
        if status.cached:
            print(f"{name}: cached, skipped", file=sys.stderr)
            cached += 1
        else:
            submitted.append((name, status))
    finished = watch(manager, submitted) if submitted else []
    for (name, _), status in zip(submitted, finished):
        if status.record is not None:
            failed = "" if status.record.trained else f" (did not train: {status.record.diagnosis})"
            print(f"{name}: trained on {status.record.trained_on}: test accuracy "
                  f"{status.record.test_accuracy:.4f} ({status.record.train_seconds:.0f} s) run {status.key}{failed}",
                  file=sys.stderr)
    for problem in cache.take_problems():
        print(f"warning: {problem}", file=sys.stderr)
    code = _settle(manager, finished)
    trained = sum(1 for status in finished if status.stored)
    print(f"done: {trained} trained, {cached} already cached")
    return code


def cmd_cache(args: argparse.Namespace) -> int:
    from dashboard.store.cache import ModelCache
    from dashboard.views.labels import final_map_text, network_label, training_label

    cache = ModelCache()
    if args.action == "list":
        runs, problems = cache.scan()
        if args.json:
            print(json.dumps([r.to_dict() for r in runs], indent=2))
        else:
            print(f"{len(runs)} run(s); written runs in {cache.root} use {cache.size_bytes() / 2**20:.1f} MB "
                  f"of {cache.max_bytes / 2**20:.0f} MB")
            for r in runs:
                print(f"{r.key}  {'shipped' if r.shipped else 'cached '}  test {r.test_accuracy:.4f}  "
                      f"val {r.val_accuracy:.4f}  {r.params:>9,} params  {final_map_text(r):>9}  "
                      f"{r.train_seconds:6.1f}s  {r.data_source:11s} {network_label(r)} · {training_label(r)}")
        for problem in problems:
            print(f"warning: {problem}", file=sys.stderr)
        return 0
    if args.action == "verify":
        report = cache.verify()
        outcome = f"{len(report.set_aside)} set aside"
        if report.not_set_aside:
            outcome += f", {len(report.not_set_aside)} could not be set aside"
        print(f"{len(report.ok)} sound, {len(report.damaged)} damaged" + (f" ({outcome})" if report.damaged else ""))
        for item in report.removed:
            print(f"removed stale {item}")
        for message in report.damaged:
            print(f"damaged: {message}")
        return 1 if report.damaged else 0
    report = cache.prune()
    for item in report.removed:
        print(f"removed {item}")
    print(f"{len(report.removed)} removed; {len(report.ok)} run(s) left using {report.total_mb:.1f} MB")
    return 0


def cmd_cluster_certs(args: argparse.Namespace) -> int:
    from dashboard.jobs.cluster_certs import CertificateError, make_certificates, when

    try:
        made = make_certificates(args.directory, hosts=args.host, days=args.days)
    except CertificateError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote a new certificate authority and the scheduler's, workers' and app's certificates to {made.directory}:")
    for name in made.files:
        print(f"  {name}")
    print(f"they expire on {when(made.expires)} ({args.days} days); keys are readable by you only (0600)")
    print("ca-key.pem makes certificates the cluster accepts: keep it on this machine, never on a worker; "
          "see docs/deployment.md for which file goes where")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from dashboard.outside import plain
    from dashboard.store.cache import ModelCache
    from dashboard.store.imported import SCALINGS, import_model

    data = _read_model_file(args.path)
    mnist = _load_data(args.data)
    cache = ModelCache()
    record, hit = import_model(data, os.path.basename(args.path), mnist, cache)
    scaling = record.imported.scaling
    out = {
        "key": record.key,
        "cache_hit": hit,
        "source_file": record.source_file,
        "params": record.params,
        "test_accuracy": record.test_accuracy,
        "input_scaling": scaling,
        "data": record.data_label,
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        state = "already imported" if hit else "imported"
        print(f"run {record.key} ({state}) from {plain(record.source_file)}: {record.params:,} parameters, "
              f"test accuracy {record.test_accuracy:.4f} on {record.data_label}, input {SCALINGS[scaling].label}")
    return 0
