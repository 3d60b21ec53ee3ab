"""Words about runs: titles, training and data names, and the judgement texts of Inside the 3×3."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dashboard.network.spec import BOOK, PRESETS
from dashboard.training.train_settings import TRAIN_PRESETS, TrainSettings
from dashboard.views import labels
from tests.unit.test_run import imported, trained


def test_a_preset_run_is_named_by_its_presets():
    run = trained("0123456789", BOOK, TRAIN_PRESETS["fast"], shipped=True, test_accuracy=0.9915)
    assert labels.network_label(run) == "book" and labels.training_label(run) == "fast preset"
    assert labels.run_title(run) == "book · fast preset · test 99.15% · embedded subset (12,000 images) · shipped · 012345"
    assert labels.short_label(run) == "book · fast preset · embedded subset (12,000 images) · 012345"
    assert labels.final_map_text(run) == "3×3×64"


def test_seed_and_training_size_are_shown_beside_the_preset():
    settings = replace(TRAIN_PRESETS["book"], seed=3, train_size=5000)
    assert labels.training_preset_of(settings) == "book"
    assert labels.training_label(trained(settings=settings)) == "book preset on 5,000 seed 3"


def test_custom_networks_and_settings_are_described():
    spec = PRESETS["tiny"].with_block(0, filters=9)
    run = trained(spec=spec, settings=TrainSettings(optimizer="adam", batch_size=128, epochs=3))
    assert labels.network_label(run) == spec.describe() == labels.network_line(run)
    assert labels.training_label(run) == "adam b128 3ep"


def test_an_imported_run_is_named_by_its_file_as_plain_text():
    run = imported(imported=replace(imported().imported, source_file="<b>net\u202e.keras\nline two"))
    assert labels.network_label(run) == "imported ‹b›net .keras line two"  # flattened, no HTML brackets
    assert labels.training_label(run) == "imported, input raw"
    assert labels.network_line(run) == "Conv2D8 · Flatten"
    assert labels.input_scaling_text(run).startswith("raw pixel values")
    assert labels.input_scaling_text(trained()) == ""
    assert labels.final_map_text(replace(run, final_map=None)) == "–"


@pytest.mark.parametrize(
    "source, label, name",
    [("file", "file (60,000 train + 10,000 test images)", "full MNIST"),
     ("embedded", "embedded subset (12,000 train + 2,000 test images)", "embedded subset (12,000 images)"),
     ("file", "file (500 train + 100 test images)", "MNIST file (500 images)"),
     ("embedded", "embedded", "embedded subset"),  # an imported run's label carries no counts
     ("MNIST_NPZ", "MNIST_NPZ file (60,000 train + 10,000 test images)", "full MNIST"),
     ("[x](https://e.org)", "[x](https://e.org) (9 train + 1 test images)", "[x](https://e.org) (9 images)")],
)
def test_data_names(source, label, name):
    assert labels.data_name(trained(data_source=source, data_label=label)) == name


def test_loaded_data_is_named_the_same_way_as_a_run_trained_on_it():
    from dashboard.mnist.data import load_mnist

    data = load_mnist("embedded")
    run = trained(data_source=data.source, data_label=data.label)
    assert labels.dataset_name(data) == labels.data_name(run) == f"embedded subset ({len(data.x_train):,} images)"
    assert labels.name_data("keras-cache", 60_000, 10_000) == "full MNIST"


def test_position_judgement_turns_at_its_threshold():
    edge = labels.ESSENTIAL_POSITION_DROP
    assert labels.position_judgement(edge - 1e-9).startswith("No single position is essential")
    assert labels.position_judgement(edge).startswith("That position carries a lot")


def test_window_judgement_turns_at_its_threshold():
    edge = labels.INFORMATIVE_WINDOW_ACCURACY
    assert labels.window_judgement(edge) == ": one window already holds much of the digit."
    assert labels.window_judgement(edge - 1e-9) == ": one window holds little on its own."


@pytest.mark.parametrize("trained_on, words", [
    ("vm (in the app's process)", "Trained on this server"), ("vm (no Dask worker)", "Trained on this server"),
    (None, "Trained on this server"),
    ("tcp://10.0.0.5:40000 (host node-2)", "Trained on the workshop cluster (worker tcp://10.0.0.5:40000)"),
])
def test_where_a_run_was_trained_is_said_plainly(trained_on, words):
    assert labels.trained_where(trained_on) == words


def test_the_training_accuracy_note_appears_only_when_training_accuracy_is_lower():
    assert "running average" in labels.training_accuracy_note({"accuracy": [0.9, 0.97], "val_accuracy": [0.97, 0.98]})
    assert labels.training_accuracy_note({"accuracy": [0.99], "val_accuracy": [0.98]}) is None
    assert labels.training_accuracy_note({"accuracy": [float("nan")], "val_accuracy": [0.98]}) is None
    assert labels.training_accuracy_note({}) is None
    assert "Dropout" in labels.training_accuracy_note({"accuracy": [0.9], "val_accuracy": [0.98]}, dropout=True)


def test_a_failed_download_is_said_in_plain_words():
    import urllib.error

    from dashboard.mnist.data import download_failed_note

    note = download_failed_note(urllib.error.URLError(OSError(-2, "Name or service not known")))
    assert note == "MNIST could not be downloaded (no network): using the embedded subset"
    assert "no answer within" in download_failed_note(None) and "Errno" not in download_failed_note(TimeoutError())
