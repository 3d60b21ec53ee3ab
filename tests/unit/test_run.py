"""The run object: typed spec and settings parsed once, imported runs, old records, matching runs."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from dashboard.network.spec import BOOK, PRESETS, ConvBlock, NetworkSpec, final_map
from dashboard.store.cache import SHIPPED_ROOT
from dashboard.store.run import ImportedModel, RunRecord, find_run, make_key, shipped_book
from dashboard.training.reproducible import RECIPE
from dashboard.training.train_settings import TRAIN_PRESETS, TrainSettings

MICRO = NetworkSpec(blocks=(ConvBlock(4), ConvBlock(8)), dense_units=0)
SHA = "ab" * 32


def trained(key: str = "k1", spec: NetworkSpec = MICRO, settings: TrainSettings | None = None, **changes) -> RunRecord:
    settings = settings or TrainSettings(epochs=1)
    base = RunRecord(
        key=key, spec=spec, settings=settings, history={"val_accuracy": [0.9, 0.95]}, test_accuracy=0.95,
        params=1234, final_map=final_map(spec), train_seconds=3.0, data_source="embedded",
        data_label="embedded subset (12,000 train + 2,000 test images)", data_fingerprint="fp",
    )
    return replace(base, **changes)


def imported(key: str = SHA, **changes) -> RunRecord:
    base = RunRecord(
        key=key, spec=None, settings=None, history={}, test_accuracy=0.99, params=93_322, final_map=(3, 64),
        train_seconds=0.0, data_source="embedded", data_label="embedded", data_fingerprint="fp",
        imported=ImportedModel("my model.keras", SHA, "raw", layers=({"type": "Conv2D", "output_shape": [None, 26, 26, 8]},
                                                                 {"type": "Flatten", "output_shape": [None, 5408]})),
    )
    return replace(base, **changes)


def shipped_texts() -> list[Path]:
    return sorted(SHIPPED_ROOT.glob("*/record.json"))


# --- reading what is on disk ---------------------------------------------------------------------


@pytest.mark.parametrize("path", shipped_texts(), ids=lambda p: p.parent.name)
def test_shipped_records_load_typed_and_keep_their_keys(path):
    record = RunRecord.from_json(path.read_text(encoding="utf-8"))
    assert isinstance(record.spec, NetworkSpec) and isinstance(record.settings, TrainSettings)
    assert record.kind == "trained" and not record.is_imported
    assert record.key == path.parent.name == make_key(record.spec, record.settings, record.data_fingerprint)
    assert record.recipe == RECIPE and isinstance(record.trained, bool)  # trained and judged under today's recipe
    # Written back, a trained run keeps the layout older versions read (spec and settings as objects).
    again = json.loads(record.to_json())
    original = json.loads(path.read_text(encoding="utf-8"))
    assert again["spec"] == original["spec"] and again["settings"] == original["settings"]
    assert RunRecord.from_json(record.to_json()) == record


def test_a_trained_record_round_trips_with_the_job_fields():
    record = trained(trained_on="tcp://10.0.0.7:40123", queued_seconds=12.5)
    data = record.to_dict()
    assert data["kind"] == "trained" and "imported" not in data and data["spec"] == MICRO.to_dict()
    again = RunRecord.from_json(record.to_json())
    assert again == record and again.trained_on == "tcp://10.0.0.7:40123" and again.queued_seconds == 12.5


def test_an_imported_record_round_trips_without_spec_or_settings():
    record = imported()
    data = record.to_dict()
    assert data["kind"] == "imported" and "spec" not in data and "settings" not in data
    assert data["imported"]["source_file"] == "my model.keras" and data["imported"]["sha256"] == SHA
    assert data["imported"]["scaling"] == "raw" and data["imported"]["input_shape"] == [28, 28, 1]
    again = RunRecord.from_json(record.to_json())
    assert again == record and again.is_imported and again.spec is None and again.settings is None
    assert again.epochs_done == 0 and again.source_file == "my model.keras"


def test_an_imported_record_written_by_the_first_import_version_loads():
    data = {**imported().to_dict(), "spec": {}, "settings": {}}  # no "kind"; empty spec and settings
    del data["kind"]
    assert RunRecord.from_dict(data) == imported()


def test_unknown_fields_from_a_newer_app_are_ignored():
    data = {**trained().to_dict(), "something_new": [1, 2, 3]}
    assert RunRecord.from_dict(data) == trained()


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda d: d["spec"].update(blocks=[]), "network is not valid"),
        (lambda d: d["spec"]["blocks"][0].update(filters=0), "network is not valid"),
        (lambda d: d["settings"].update(epochs="five"), "training settings are not valid"),
        (lambda d: d["settings"].update(momentum=0.9), "training settings are not valid"),
        (lambda d: d.update(final_map=[3, 64]), "last map"),
        (lambda d: d.update(params=-1), "malformed"),
        (lambda d: d.update(params=True), "malformed"),
        (lambda d: d.update(test_accuracy=7), "malformed"),
        (lambda d: d.update(queued_seconds=float("inf")), "malformed"),
        (lambda d: d.update(kind="alien"), "unknown kind"),
        (lambda d: d.pop("settings"), "record lacks settings"),
        (lambda d: d.update(imported={"source_file": "x.keras", "sha256": SHA}), "either"),
    ],
    ids=["zero-blocks", "zero-filters", "settings-type", "settings-unknown", "final-map", "negative-params",
         "bool-params", "accuracy-range", "infinite-wait", "kind", "no-settings", "both-kinds"],
)
def test_bad_records_are_refused_when_read(change, words):
    data = json.loads(trained().to_json())
    change(data)
    with pytest.raises(ValueError, match=words):
        RunRecord.from_json(json.dumps(data))


@pytest.mark.parametrize(
    "imported_field, words",
    [({"source_file": "", "sha256": SHA}, "source_file"), ({"source_file": "a.keras", "sha256": "xyz"}, "sha256"),
     ({"source_file": "a.keras", "sha256": SHA, "scaling": "wild"}, "scaling"),
     ({"source_file": "a.keras", "sha256": SHA, "input_shape": [28, -1]}, "input_shape")],
    ids=["empty-name", "bad-hash", "bad-scaling", "bad-shape"],
)
def test_bad_imported_records_are_refused(imported_field, words):
    data = {**imported().to_dict(), "imported": imported_field}
    with pytest.raises(ValueError, match=words):
        RunRecord.from_dict(data)


def test_huge_or_deep_record_text_is_refused_before_parsing():
    with pytest.raises(ValueError, match="nested too deeply"):
        RunRecord.from_json('{"key": ' + "[" * 5000 + "]" * 5000 + "}")
    with pytest.raises(ValueError, match="too long"):
        RunRecord.from_json('{"key": "' + "x" * 300_000 + '"}')


def test_a_run_is_either_trained_or_imported():
    with pytest.raises(ValueError, match="either"):
        trained(imported=ImportedModel("a.keras", SHA))
    with pytest.raises(ValueError, match="either"):
        imported(spec=MICRO)
    with pytest.raises(ValueError, match="either"):
        replace(trained(), settings=None)


# --- matching runs -------------------------------------------------------------------------------


def test_runs_are_found_by_typed_equality():
    book = trained("b", BOOK, TRAIN_PRESETS["book"], shipped=True)
    fast_book = trained("f", BOOK, TRAIN_PRESETS["fast"], shipped=True)
    local_book = trained("l", BOOK, TRAIN_PRESETS["book"])
    runs = [imported(), fast_book, local_book, book]
    assert shipped_book(runs) is book
    assert shipped_book([fast_book, local_book, imported()]) is None
    # A spec parsed from JSON equals the preset: no dict comparison needed.
    assert find_run(runs, spec=NetworkSpec.from_json(BOOK.to_json()), shipped=False) is local_book
    assert find_run(runs, spec=PRESETS["tiny"]) is None


def test_trained_alike_needs_the_same_settings_and_data():
    a = trained("a", BOOK)
    assert a.trained_alike(trained("b", PRESETS["tiny"]))
    assert not a.trained_alike(trained("c", PRESETS["tiny"], data_fingerprint="other"))
    assert not a.trained_alike(trained("d", BOOK, TrainSettings(epochs=2)))
    assert not a.trained_alike(imported()) and not imported().trained_alike(imported("e" * 64))


def test_the_run_object_imports_neither_tensorflow_nor_streamlit():
    code = ("import sys, dashboard.store.run, dashboard.views.labels, dashboard.store.cache, dashboard.store.entry, dashboard.inspection.evaluation, "
            "dashboard.training.grids; print(sorted(m for m in ('tensorflow', 'keras', 'streamlit') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]"
