"""Words the pages show about runs and results: run titles, data names, and plain-language judgements.

Pages format these strings; they do not decide them. Every threshold that turns a number into a
judgement ("no single position is essential") is a named constant here, so a unit test can
check the texts on both sides of it.

Everything returned may contain outside text (an imported model's file name, a record's data
label): callers show it as plain text (`dashboard.outside`), never as markdown.

Pure Python: imports neither TensorFlow nor Streamlit.
"""

from __future__ import annotations

import re
from dataclasses import replace

from dashboard.mnist.data import MnistData
from dashboard.network.spec import BOOK, NetworkSpec, preset_name
from dashboard.outside import plain
from dashboard.store.run import INPUT_SCALINGS, RunRecord
from dashboard.training.train_settings import TRAIN_PRESETS, TrainSettings

FULL_MNIST_MARK = "60,000 train + 10,000 test"  # how `dashboard.mnist.data` labels the full set
FULL_TRAIN, FULL_TEST = 60_000, 10_000
_COUNTS = re.compile(r"([0-9][0-9,]{0,9}) train \+ ([0-9][0-9,]{0,9}) test")  # in a record's data label
DATA_SOURCE_NAMES = {"embedded": "embedded subset", "file": "MNIST file", "MNIST_NPZ": "MNIST_NPZ file",
                     "keras-cache": "Keras's MNIST", "download": "downloaded MNIST"}
# Inside the 3×3: losing one position of the last map costs less than this → "no position is essential".
ESSENTIAL_POSITION_DROP = 0.05
# Inside the 3×3: one position alone reaching this accuracy → "one window holds much of the digit".
INFORMATIVE_WINDOW_ACCURACY = 0.3
HARMLESS_CHANNEL_DROP = 0.001  # a channel whose loss costs at most this (0.1 point) is "harmless"


# --- runs ----------------------------------------------------------------------------------------


def training_preset_of(settings: TrainSettings) -> str | None:
    """The training preset `settings` follow, ignoring the seed and training-set size (shown apart)."""
    bare = replace(settings, seed=0, train_size=None)
    return next((name for name, preset in TRAIN_PRESETS.items()
                 if replace(preset, seed=0, train_size=None) == bare), None)


def _short_layer(row: dict) -> str:
    """'Conv2D32', 'MaxPooling2D', 'Dense10' for a stored summary row of an imported model."""
    kind = plain(row.get("type", "?"), 40)
    shape = row.get("output_shape") or [None]
    return f"{kind}{shape[-1]}" if kind in ("Conv2D", "Dense") else kind


def network_line(run: RunRecord) -> str:
    """The network in one line, e.g. 'conv32-pool · conv64-pool · conv64 → flatten → 64'."""
    if run.spec is None:
        return plain(" · ".join(_short_layer(row) for row in run.imported.layers), 200)
    return run.spec.describe()


def network_label(run: RunRecord) -> str:
    """The network's preset name, else its one-line layout; 'imported <file name>' for an imported run."""
    if run.spec is None:
        # Plain text, and no angle brackets: plotly legends would read them as HTML.
        return f"imported {plain(run.source_file, 40).replace('<', '‹').replace('>', '›')}"
    return preset_name(run.spec) or _book_variant(run.spec) or run.spec.describe()


def _book_variant(spec: NetworkSpec) -> str | None:
    """'book, last conv 8 filters' when `spec` is the book network with only its last conv's filters changed."""
    last = len(BOOK.blocks) - 1
    if len(spec.blocks) == len(BOOK.blocks) and spec == BOOK.with_block(last, filters=spec.blocks[last].filters):
        n = spec.blocks[last].filters
        return f"book, last conv {n} filter{'s' if n != 1 else ''}"
    return None


def trained_where(trained_on: str | None) -> str:
    """Where a run was trained, in plain words: "Trained on this server", or "Trained on the workshop
    cluster (worker tcp://10.0.0.5:40000)" from the record's `trained_on` ("<worker address> (host
    <name>)" for a cluster worker; "<host> (in the app's process)" or "(no Dask worker)" here)."""
    where = (trained_on or "").strip()
    if where.endswith(")") and " (host " in where:
        worker = plain(where.split(" (host ")[0], 80)
        return f"Trained on the workshop cluster (worker {worker})"
    return "Trained on this server"


TRAINING_ACCURACY_NOTE = (
    "Training accuracy is lower than validation accuracy because Keras reports it as a running average "
    "over the epoch, which began with the weights of the epoch before (random ones in the first epoch), "
    "while validation accuracy is measured once, with the weights at the epoch's end."
)


def training_accuracy_note(history: dict[str, list[float]], dropout: bool = False) -> str | None:
    """Why the last epoch's training accuracy is below its validation accuracy, in plain words (with
    `dropout`, that it is on only while training); None when it is not below (or either is missing),
    so the sentence is never false."""
    train, val = list(history.get("accuracy") or []), list(history.get("val_accuracy") or [])
    if not train or not val or not train[-1] < val[-1]:  # NaN compares False: no sentence
        return None
    return TRAINING_ACCURACY_NOTE + (" Dropout, too, is on while training and off when validating." if dropout else "")


def training_label(run: RunRecord) -> str:
    """The training preset's name, else the main settings, e.g. 'adam b128 3ep on 5,000'."""
    if run.settings is None:
        return f"imported, input {run.imported.scaling}"
    s = run.settings
    preset = training_preset_of(s)
    what = f"{preset} preset" if preset else f"{s.optimizer} b{s.batch_size} {s.epochs}ep"
    if s.train_size is not None:
        what += f" on {s.train_size:,}"
    if s.seed != 0:
        what += f" seed {s.seed}"
    return what


def name_data(source: str, n_train: int | None, n_test: int | None = None) -> str:
    """How people name a data set: 'full MNIST', 'embedded subset (12,000 images)', 'MNIST file (500 images)'.

    `n_train` is the number of training images (None if unknown); the full set is 60,000 + 10,000.
    """
    if n_train == FULL_TRAIN and n_test in (None, FULL_TEST):
        return "full MNIST"
    name = DATA_SOURCE_NAMES.get(source) or plain(source, 30)
    return f"{name} ({n_train:,} images)" if n_train else name


def dataset_name(data: MnistData) -> str:
    """`name_data` of loaded data."""
    return name_data(data.source, len(data.x_train), len(data.x_test))


def data_name(run: RunRecord) -> str:
    """`name_data` of the data a run was trained on (counts read from its bounded data label)."""
    if FULL_MNIST_MARK in run.data_label:
        return "full MNIST"
    counts = _COUNTS.search(run.data_label[:200])
    if counts is None:
        return name_data(run.data_source, None)
    n_train, n_test = (int(part.replace(",", "")) for part in counts.groups())
    return name_data(run.data_source, n_train, n_test)


def run_title(run: RunRecord) -> str:
    """One line naming the run for a picker: network, training, test accuracy, data, key."""
    tag = " · shipped" if run.shipped else ""
    failed = " (did not train)" if not run.trained else ""
    return (f"{network_label(run)} · {training_label(run)} · test {run.test_accuracy:.2%}{failed} · "
            f"{data_name(run)}{tag} · {run.key[:6]}")


def short_label(run: RunRecord) -> str:
    """Network, training, data and the key's start: a legend entry (no accuracy)."""
    return f"{network_label(run)} · {training_label(run)} · {data_name(run)} · {run.key[:6]}"


def final_map_text(run: RunRecord) -> str:
    """'3×3×64', or '–' for a model without a conv map."""
    if run.final_map is None:
        return "–"
    side, channels = run.final_map
    return f"{side}×{side}×{channels}"


def input_scaling_text(run: RunRecord) -> str:
    """How an imported run's inputs are scaled, in words ('' for a trained run)."""
    return "" if run.imported is None else INPUT_SCALINGS[run.imported.scaling]


# --- Inside the 3×3: judgements ------------------------------------------------------------------


def position_judgement(worst_drop: float) -> str:
    """What the largest accuracy drop from zeroing one position of the last map says."""
    if worst_drop < ESSENTIAL_POSITION_DROP:
        return "No single position is essential: the overlapping windows of the others still see most of the digit."
    return "That position carries a lot on its own: its window covers a part of the digit the others see poorly."


def window_judgement(best_alone: float) -> str:
    """What the accuracy of the best single position kept alone says (completes a sentence)."""
    if best_alone >= INFORMATIVE_WINDOW_ACCURACY:
        return ": one window already holds much of the digit."
    return ": one window holds little on its own."
