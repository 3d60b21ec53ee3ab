"""Evaluation of runs that needs no model: families of runs and runs trained alike."""

from __future__ import annotations

from dashboard.inspection.evaluation import depth_runs, family_rows, same_training
from dashboard.network.spec import BOOK, PRESETS
from dashboard.training.trainer import TrainSettings
from tests.unit.test_run import imported, trained


def test_family_rows_leave_out_imported_runs_and_sort_by_map_size():
    runs = [
        trained("a", BOOK, params=93_322, test_accuracy=0.99),
        trained("b", PRESETS["one_by_one"], params=97_482, test_accuracy=0.985),
        imported(),
        trained("d", PRESETS["no_pooling"], params=2_038_922, test_accuracy=0.98),
    ]
    rows = family_rows(runs)
    assert [(r.key, r.final_size, r.conv_layers) for r in rows] == [("b", 1, 4), ("a", 3, 3), ("d", 22, 3)]
    assert rows[1].params == 93_322 and rows[1].test_accuracy == 0.99 and rows[1].label == BOOK.describe()


def test_same_training_keeps_runs_trained_alike_and_the_run_itself():
    me = trained("me", BOOK)
    runs = [me, trained("a", PRESETS["tiny"]), trained("b", PRESETS["tiny"], TrainSettings(epochs=4)),
            trained("c", PRESETS["tiny"], data_fingerprint="other"), imported()]
    assert [r.key for r in same_training(runs, me)] == ["me", "a"]
    alone = imported()
    assert same_training(runs, alone) == [runs[-1]]


def test_depth_runs_open_on_a_group_of_runs_that_exists():
    family = [trained(key, spec) for key, spec in (("f1", BOOK), ("f2", PRESETS["tiny"]), ("f3", PRESETS["one_by_one"]))]
    other = TrainSettings(epochs=5)
    lone, pair = trained("lone", BOOK, other), [trained("p1", BOOK, TrainSettings(epochs=2)), trained("p2", PRESETS["tiny"], TrainSettings(epochs=2))]
    runs = [lone, *pair, *family, imported()]
    assert depth_runs(runs, family[0], same_only=True) == (family, False)  # trained alike: the run's own group
    assert depth_runs(runs, lone, same_only=True) == (family, True)  # alone: the largest group instead
    assert depth_runs(runs, lone, same_only=False) == (runs, False)
    assert depth_runs([lone, imported()], lone, same_only=True) == ([lone], False)  # nothing to compare
