"""The model cache: keys, records, atomic writes, damaged entries, shipped entries, eviction."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest

from dashboard.mnist.data import load_mnist, to_model_input
from dashboard.network.spec import BOOK, PRESETS, ConvBlock, NetworkSpec
from dashboard.store import cache as cache_module
from dashboard.store import durable
from dashboard.store.cache import CacheError, ModelCache, make_key
from dashboard.store.run import RunRecord, trained_record
from dashboard.training.train_settings import TrainSettings
from dashboard.training.trainer import TrainResult, train
from dashboard.views.labels import data_name, run_title
from tests.marks import trains

MICRO = NetworkSpec(blocks=(ConvBlock(4), ConvBlock(8)), dense_units=0)
QUICK = TrainSettings(epochs=1, batch_size=32, train_size=300)


@pytest.fixture(scope="module")
def data():
    return load_mnist("embedded")


@pytest.fixture(scope="module")
@trains
def trained(data):
    """(record-less) result of one tiny training, shared by the tests that store it."""
    return train(MICRO, QUICK, data)


def store(cache: ModelCache, trained, data, seed: int = 0, size: int = 300) -> RunRecord:
    """Put the tiny model under the key of `QUICK` with `seed` (same weights: the key is what matters);
    another `size` (training images) makes another group of seeds."""
    settings = TrainSettings(epochs=1, batch_size=32, train_size=size, seed=seed)
    key = cache.key(MICRO, settings, data.fingerprint)
    record = trained_record(key, MICRO, settings, data, trained)
    cache.put(record, trained.model)
    return record


@pytest.fixture
def cache(tmp_path):
    return ModelCache(tmp_path / "cache", shipped_root=tmp_path / "shipped")


# --- keys and records --------------------------------------------------------------------------


def test_key_is_stable_and_a_url_token(data):
    key = make_key(BOOK, TrainSettings(), data.fingerprint)
    assert key == make_key(BOOK, TrainSettings(), data.fingerprint)
    assert re.fullmatch(r"[0-9a-f]{16}", key)


@pytest.mark.parametrize(
    "spec, settings, fingerprint",
    [
        (PRESETS["tiny"], TrainSettings(), "fp"),
        (BOOK, TrainSettings(seed=1), "fp"),
        (BOOK, TrainSettings(epochs=3), "fp"),
        (BOOK, TrainSettings(train_size=1000), "fp"),
        (BOOK, TrainSettings(), "other-data"),
    ],
    ids=["spec", "seed", "epochs", "train-size", "data"],
)
def test_key_changes_with_each_input(spec, settings, fingerprint):
    assert make_key(spec, settings, fingerprint) != make_key(BOOK, TrainSettings(), "fp")


def test_key_does_not_depend_on_library_versions(monkeypatch, data):
    before = make_key(BOOK, TrainSettings(), data.fingerprint)
    import keras

    monkeypatch.setattr(keras, "__version__", "99.0.0")
    assert make_key(BOOK, TrainSettings(), data.fingerprint) == before


def test_record_round_trips_through_json(cache, trained, data):
    record = store(cache, trained, data)
    again = RunRecord.from_json(record.to_json())
    assert again == record
    assert again.final_map == (5, 8) and again.params == trained.model.count_params()
    assert again.versions["keras"] and again.created
    assert again.spec == MICRO and again.settings.train_size == 300


@pytest.mark.parametrize(
    "text, words",
    [("{not json", "not valid JSON"), ("[1]", "not a JSON object"), ('{"key": "x"}', "record lacks")],
    ids=["bad-json", "list", "missing-fields"],
)
def test_bad_record_text_is_refused(text, words):
    with pytest.raises(ValueError, match=words):
        RunRecord.from_json(text)


# --- writing and reading -----------------------------------------------------------------------


def test_put_then_get_and_load_model_round_trip(cache, trained, data):
    record = store(cache, trained, data)
    assert cache.get(record.key) == record
    assert [r.key for r in cache.runs()] == [record.key]
    model = cache.load_model(record.key)
    x = to_model_input(data.x_test[:20])
    np.testing.assert_allclose(model.predict(x, verbose=0), trained.model.predict(x, verbose=0), atol=1e-6)
    entry = cache.root / record.key
    assert sorted(p.name for p in entry.iterdir()) == ["model.keras", "record.json"]
    assert not [p for p in cache.root.iterdir() if p.name.startswith(".tmp-")]


def test_saved_model_has_no_optimizer_state(cache, trained, data):
    import zipfile

    import h5py

    record = store(cache, trained, data)
    with zipfile.ZipFile(cache.root / record.key / "model.keras") as archive:
        archive.extract("model.weights.h5", cache.root)
    with h5py.File(cache.root / "model.weights.h5") as weights:
        assert "optimizer" not in weights


def test_a_crash_during_put_leaves_nothing_that_looks_complete(cache, trained, data, monkeypatch):
    def half_written(model, path: Path) -> None:
        path.write_bytes(b"PK\x03\x04 partial")  # the start of a zip, then the crash
        raise OSError("disk full")

    monkeypatch.setattr(durable, "save_model", half_written)
    with pytest.raises(OSError, match="disk full"):
        store(cache, trained, data)
    assert cache.runs() == []
    assert list(cache.root.iterdir()) == []


def test_writes_go_to_a_temp_dir_inside_the_root_then_rename(cache, trained, data, monkeypatch):
    renames = []
    real_rename = os.rename

    def spy(src, dst):
        renames.append((Path(src), Path(dst)))
        return real_rename(src, dst)

    monkeypatch.setattr(cache_module.os, "rename", spy)
    record = store(cache, trained, data)
    (src, dst), = renames
    assert src.parent == dst.parent == cache.root  # same file system: the rename is atomic
    assert src.name.startswith(".tmp-") and dst.name == record.key


def test_second_put_of_the_same_key_keeps_the_first(cache, trained, data):
    first = store(cache, trained, data)
    mtime = (cache.root / first.key / "record.json").stat().st_mtime_ns
    store(cache, trained, data)
    assert (cache.root / first.key / "record.json").stat().st_mtime_ns == mtime
    assert len(cache.runs()) == 1


# --- damaged entries ---------------------------------------------------------------------------


def truncate_model(entry: Path) -> None:
    path = entry / "model.keras"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGES = {
    "truncated-model": (truncate_model, "truncated or corrupt"),
    "bad-json": (lambda e: (e / "record.json").write_text("{oops"), "not valid JSON"),
    "missing-model": (lambda e: (e / "model.keras").unlink(), "model.keras is missing"),
    "missing-record": (lambda e: (e / "record.json").unlink(), "record.json is missing"),
    "empty-model": (lambda e: (e / "model.keras").write_bytes(b""), "truncated or corrupt"),
    "wrong-key": (
        lambda e: (e / "record.json").write_text(
            json.dumps({**json.loads((e / "record.json").read_text()), "key": "0123456789abcdef"})
        ),
        "names another key",
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGES), ids=list(DAMAGES))
def test_damaged_entry_is_reported_and_set_aside(cache, trained, data, damage):
    record = store(cache, trained, data)
    harm, words = DAMAGES[damage]
    harm(cache.root / record.key)
    got, problem = cache.check(record.key)
    assert got is None and words in problem
    assert not (cache.root / record.key).exists()
    assert len(list((cache.root / ".damaged").iterdir())) == 1
    assert any(words in message for message in cache.take_problems())
    assert cache.take_problems() == []  # reported once
    assert cache.get(record.key) is None and cache.runs() == []


def test_damaged_entries_are_skipped_when_listing(cache, trained, data):
    good = store(cache, trained, data, seed=0)
    bad = store(cache, trained, data, seed=1)
    truncate_model(cache.root / bad.key)
    runs, problems = cache.scan()
    assert [r.key for r in runs] == [good.key]
    assert len(problems) == 1 and bad.key in problems[0]


def test_model_that_cannot_be_loaded_raises_cache_error_and_is_set_aside(cache, trained, data):
    import zipfile

    record = store(cache, trained, data)
    path = cache.root / record.key / "model.keras"
    with zipfile.ZipFile(path) as archive:
        config = archive.read("config.json")
    with zipfile.ZipFile(path, "w") as archive:  # a valid zip and configuration, garbage weights
        archive.writestr("config.json", config)
        archive.writestr("metadata.json", "{}")
        archive.writestr("model.weights.h5", b"not hdf5")
    with pytest.raises(CacheError, match="cannot be loaded"):
        cache.load_model(record.key)
    assert cache.get(record.key) is None


def test_load_weights_gives_the_model_s_arrays_and_sets_damaged_weights_aside(cache, trained, data):
    import zipfile

    from dashboard.inspection.forward import Network

    record = store(cache, trained, data)
    network = Network(record.spec, cache.load_weights(record.key))  # read without Keras
    x = data.x_test[:20].astype(np.float32) / 255.0
    np.testing.assert_allclose(network.maps_and_probs(x)[1], trained.model.predict(x[..., None], verbose=0), atol=1e-5)
    path = cache.root / record.key / "model.keras"
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in ("config.json", "metadata.json")}
    with zipfile.ZipFile(path, "w") as archive:  # a sound configuration, garbage weights
        for name, raw in members.items():
            archive.writestr(name, raw)
        archive.writestr("model.weights.h5", b"not hdf5")
    with pytest.raises(CacheError, match="weights cannot be used"):
        cache.load_weights(record.key)
    assert cache.get(record.key) is None  # set aside, as a model that cannot be loaded is
    with pytest.raises(CacheError, match="not in the cache"):
        cache.load_weights(record.key)


def test_load_model_of_an_unknown_key_is_a_cache_error(cache):
    with pytest.raises(CacheError, match="not in the cache"):
        cache.load_model("0123456789abcdef")


@pytest.mark.parametrize("key", ["../etc", "a/b", "", "x" * 200], ids=["dotdot", "slash", "empty", "long"])
def test_hostile_keys_are_simply_absent(cache, key):
    assert cache.get(key) is None and cache.entry_dir(key) is None


def test_verify_finds_a_corrupt_member_that_a_quick_check_misses(cache, trained, data):
    record = store(cache, trained, data)
    path = cache.root / record.key / "model.keras"
    raw = bytearray(path.read_bytes())
    spot = raw.find(b"HDF") + 2000  # inside the stored (uncompressed) weights
    raw[spot] ^= 0xFF
    path.write_bytes(bytes(raw))
    report = cache.verify()
    assert report.ok == [] and len(report.damaged) == 1 and "Bad CRC-32" in report.damaged[0]
    assert report.set_aside == [record.key] and "was set aside" in report.damaged[0]
    assert cache.get(record.key) is None


# --- shipped entries ----------------------------------------------------------------------------


def make_shipped(cache: ModelCache, trained, data) -> RunRecord:
    record = store(cache, trained, data, seed=5)
    cache.shipped_root.mkdir(parents=True, exist_ok=True)
    os.rename(cache.root / record.key, cache.shipped_root / record.key)
    return record


def test_shipped_runs_come_first_and_are_marked(cache, trained, data):
    shipped = make_shipped(cache, trained, data)
    time.sleep(1.1)  # records are stamped to the second
    written = store(cache, trained, data, seed=0)
    assert [(r.key, r.shipped) for r in cache.runs()] == [(shipped.key, True), (written.key, False)]
    assert cache.get(shipped.key).shipped
    assert cache.load_model(shipped.key).count_params() == shipped.params


def test_shipped_entries_are_never_moved_even_if_damaged(cache, trained, data):
    shipped = make_shipped(cache, trained, data)
    truncate_model(cache.shipped_root / shipped.key)
    assert cache.get(shipped.key) is None
    assert (cache.shipped_root / shipped.key / "model.keras").exists()
    assert "set aside" not in cache.take_problems()[0]


def test_shipped_entries_are_never_evicted(tmp_path, trained, data):
    cache = ModelCache(tmp_path / "cache", shipped_root=tmp_path / "shipped", max_mb=0)
    shipped = make_shipped(cache, trained, data)
    written = store(cache, trained, data, seed=1)
    assert cache.evict() == [written.key]
    assert [r.key for r in cache.runs()] == [shipped.key]


def test_root_comes_from_model_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert ModelCache().root == tmp_path / "elsewhere"
    monkeypatch.delenv("MODEL_CACHE_DIR")
    assert ModelCache().root == cache_module.DEFAULT_ROOT


# --- size limit ---------------------------------------------------------------------------------


def test_least_recently_used_entries_are_evicted_past_the_limit(tmp_path, trained, data):
    probe = ModelCache(tmp_path / "probe", shipped_root=None)
    one_entry_mb = durable.dir_bytes(probe.root / store(probe, trained, data).key) / 2**20
    cache = ModelCache(tmp_path / "cache", shipped_root=None, max_mb=one_entry_mb * 2.5)
    a = store(cache, trained, data, size=301)
    b = store(cache, trained, data, size=302)
    old = time.time() - 100
    os.utime(cache.root / a.key / "model.keras", (old, old))
    os.utime(cache.root / b.key / "model.keras", (old - 50, old - 50))
    cache.get(b.key)  # b is used again: now a is the least recent
    c = store(cache, trained, data, size=303)  # the third entry passes the limit
    assert sorted(r.key for r in cache.runs()) == sorted([b.key, c.key])
    assert cache.size_bytes() <= cache.max_bytes


def test_a_networks_seeds_are_evicted_together(tmp_path, trained, data):
    probe = ModelCache(tmp_path / "probe", shipped_root=None)
    one_entry_mb = durable.dir_bytes(probe.root / store(probe, trained, data).key) / 2**20
    cache = ModelCache(tmp_path / "cache", shipped_root=None, max_mb=one_entry_mb * 3.5)
    seeds = [store(cache, trained, data, seed=seed, size=301) for seed in range(3)]
    old = time.time() - 100
    for i, record in enumerate(seeds):
        os.utime(cache.root / record.key / "model.keras", (old - i, old - i))
    newer = store(cache, trained, data, size=302)  # 4 entries: over the limit, the 3-seed group is older
    assert [r.key for r in cache.runs()] == [newer.key]  # never one or two seeds of the three left behind


def test_the_entry_just_written_is_kept_even_if_alone_over_the_limit(tmp_path, trained, data):
    cache = ModelCache(tmp_path / "cache", shipped_root=None, max_mb=0)
    record = store(cache, trained, data)
    assert cache.get(record.key) is not None


def test_size_limit_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MODEL_CACHE_MAX_MB", "12")
    assert ModelCache(tmp_path).max_bytes == 12 * 2**20
    monkeypatch.setenv("MODEL_CACHE_MAX_MB", "lots")
    assert ModelCache(tmp_path).max_bytes == 500 * 2**20


def test_prune_removes_stale_temp_dirs_and_set_aside_entries(cache, trained, data):
    record = store(cache, trained, data)
    truncate_model(cache.root / record.key)
    cache.get(record.key)  # sets it aside
    stale = cache.root / ".tmp-crashed-1234"
    stale.mkdir()
    old = time.time() - 2 * durable.STALE_SECONDS
    os.utime(stale, (old, old))
    fresh = cache.root / ".tmp-in-progress"
    fresh.mkdir()
    report = cache.prune()
    assert ".tmp-crashed-1234" in report.removed
    assert not stale.exists() and fresh.exists()  # a write in progress is left alone
    assert not list((cache.root / ".damaged").iterdir())


@pytest.mark.parametrize(
    ("source", "label", "name"),
    [
        pytest.param("file", "file (60,000 train + 10,000 test images)", "full MNIST", id="full-from-a-path"),
        pytest.param("MNIST_NPZ", "MNIST_NPZ file (60,000 train + 10,000 test images)", "full MNIST", id="full-from-env"),
        pytest.param("embedded", "embedded subset (12,000 train + 2,000 test images)", "embedded subset (12,000 images)",
                     id="embedded"),
        pytest.param("file", "file (500 train + 100 test images)", "MNIST file (500 images)", id="other-file"),
    ],
)
def test_runs_name_their_data_for_people(source, label, name, trained, data, cache):
    record = dataclasses.replace(store(cache, trained, data), data_source=source, data_label=label)
    assert data_name(record) == name
    assert f"· {name} ·" in run_title(record)


@pytest.mark.parametrize("block", [{"filters": 4, "batch_norm": True}, {"filters": 4, "pool_type": "avg"}],
                         ids=["batch_norm", "avg_pool"])
def test_every_layer_build_model_writes_is_accepted_back_from_the_cache(tmp_path, data, block):
    """A run of any network the app can build loads back (its archive's classes are the app's own)."""
    from dashboard.training.model import build_model

    spec = NetworkSpec.from_dict({"blocks": [block, {"filters": 4}], "dense_units": 8, "dropout": 0.2})
    cache = ModelCache(tmp_path / "cache", shipped_root=None)
    settings = TrainSettings(epochs=1, batch_size=32, train_size=300)
    key = cache.key(spec, settings, data.fingerprint)
    model = build_model(spec, seed=0)
    record = trained_record(key, spec, settings, data, TrainResult(model, {"val_accuracy": [0.5]}, 0.5, 1.0, 1.0, 270, 30))
    cache.put(record, model)
    loaded = cache.load_model(key)
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]
