"""`cache verify` judges every entry as loading it does; read-only honesty; stale temp directories.

Each damaged entry is built here: an untrained model of a small network (weights do not matter,
the judgement is about the file and the record) stored through the cache, then damaged.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import keras
import pytest

from dashboard.cli.main import main
from dashboard.network.spec import BOOK, PRESETS, ConvBlock, NetworkSpec, final_map
from dashboard.store import cache as cache_module
from dashboard.store import durable
from dashboard.store.cache import CacheError, ModelCache
from dashboard.store.run import RunRecord, make_key
from dashboard.training.model import build_model
from dashboard.training.train_settings import TrainSettings

MICRO = NetworkSpec(blocks=(ConvBlock(4), ConvBlock(8)), dense_units=0)
SETTINGS = TrainSettings(epochs=1, batch_size=32, train_size=300)


def record_of(spec: NetworkSpec, params: int, seed: int = 0) -> RunRecord:
    settings = replace(SETTINGS, seed=seed)
    return RunRecord(
        key=make_key(spec, settings, "fp"), spec=spec, settings=settings, history={"val_accuracy": [0.5]},
        test_accuracy=0.5, params=params, final_map=final_map(spec), train_seconds=1.0, data_source="embedded",
        data_label="embedded", data_fingerprint="fp",
    )


def store_sound(cache: ModelCache, seed: int = 0) -> RunRecord:
    model = build_model(MICRO)
    record = record_of(MICRO, model.count_params(), seed)
    cache.put(record, model)
    return record


def rewrite_config(entry: Path, config: bytes) -> None:
    """Replace the archive's config.json, keeping its other members."""
    path = entry / "model.keras"
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["config.json"] = config
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def garbage_config(cache: ModelCache) -> str:
    record = store_sound(cache)
    rewrite_config(cache.root / record.key, b"\x00garbage{{{")
    return record.key


def lambda_layer(cache: ModelCache) -> str:
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Lambda(lambda x: x * 2.0, name="doubling"),
                              keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    spec = NetworkSpec(blocks=(ConvBlock(1, kernel_size=1, pool=False),), dense_units=0)
    record = record_of(spec, model.count_params())
    path = cache.root / "lambda.keras"
    cache.root.mkdir(parents=True, exist_ok=True)
    model.save(path)
    cache.put_bytes(record, path.read_bytes())
    path.unlink()
    return record.key


def book_record_on_a_tiny_model(cache: ModelCache) -> str:
    book = record_of(BOOK, build_model(BOOK).count_params())
    cache.put(book, build_model(PRESETS["tiny"]))
    return book.key


def same_parameters_other_shapes(cache: ModelCache) -> str:
    """A record whose network has the model's parameter count and layers, but 'same' padding."""
    valid = NetworkSpec(blocks=(ConvBlock(4), ConvBlock(8)), head="global_avg", dense_units=0)
    same = valid.with_block(0, padding="same")
    model = build_model(valid)
    record = record_of(same, model.count_params())
    assert record.params == build_model(same).count_params()  # padding changes no parameter count
    cache.put(record, model)
    return record.key


def zero_blocks(cache: ModelCache) -> str:
    record = store_sound(cache)
    path = cache.root / record.key / "record.json"
    data = json.loads(path.read_text())
    data["spec"]["blocks"] = []
    path.write_text(json.dumps(data))
    return record.key


DAMAGES = {
    "garbage-config": (garbage_config, "configuration is not valid JSON"),
    "lambda-layer": (lambda_layer, "Lambda layer"),
    "book-record-on-tiny-model": (book_record_on_a_tiny_model, "does not match its record: the model has"),
    "layers-differ-from-record": (same_parameters_other_shapes, "does not match its record: layer 0 is Conv2D (26, 26, 4)"),
    "zero-blocks": (zero_blocks, "network is not valid"),
}


@pytest.fixture
def cache(tmp_path):
    return ModelCache(tmp_path / "cache", shipped_root=tmp_path / "shipped")


def reason(message: str) -> str:
    """A damage message without what became of the entry."""
    return message.split("; it ")[0]


def test_a_sound_entry_is_sound_for_verify_and_loads(cache):
    record = store_sound(cache)
    report = cache.verify()
    assert report.ok == [record.key] and report.damaged == []
    assert cache.load_model(record.key).count_params() == record.params


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_verify_and_loading_refuse_the_same_entries_for_the_same_reason(tmp_path, damage):
    build, words = DAMAGES[damage]
    for_verify = ModelCache(tmp_path / "a", shipped_root=None)
    for_app = ModelCache(tmp_path / "b", shipped_root=None)
    key = build(for_verify)
    assert build(for_app) == key
    report = for_verify.verify()
    assert report.ok == [] and len(report.damaged) == 1 and words in report.damaged[0], report.damaged
    assert report.set_aside == [key] and "it was set aside" in report.damaged[0]
    with pytest.raises(CacheError) as raised:
        for_app.load_model(key)
    assert reason(str(raised.value)) == reason(report.damaged[0])
    assert for_app.get(key) is None and not (for_app.root / key).exists()


def test_a_lambda_layer_is_refused_before_keras_deserialises_anything(cache, monkeypatch):
    key = lambda_layer(cache)

    def never(*args, **kwargs):
        raise AssertionError("keras.saving.load_model was called on an archive holding a Lambda")

    monkeypatch.setattr(keras.saving, "load_model", never)
    report = cache.verify()
    assert "Lambda layer" in report.damaged[0] and report.set_aside == [key]


def test_entries_with_a_damaged_archive_are_not_listed(cache):
    good = store_sound(cache, seed=1)
    bad = garbage_config(cache)
    runs, problems = cache.scan()
    assert [r.key for r in runs] == [good.key]
    assert len(problems) == 1 and bad in problems[0]


# --- a read-only cache ---------------------------------------------------------------------------


@contextlib.contextmanager
def simulated_read_only(monkeypatch):
    """Every rename and directory creation fails as on a read-only file system."""

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    with monkeypatch.context() as patch:
        patch.setattr(cache_module.os, "rename", refuse)
        patch.setattr(Path, "mkdir", refuse)
        yield


@pytest.mark.slow  # ~2 s
def test_verify_on_a_read_only_cache_says_it_could_not_set_aside(cache, monkeypatch, capsys):
    key = zero_blocks(cache)
    with simulated_read_only(monkeypatch):
        report = cache.verify()
        monkeypatch.setenv("MODEL_CACHE_DIR", str(cache.root))
        status = main(["cache", "verify"])
    assert report.set_aside == [] and report.not_set_aside == [key]
    assert "could not be set aside (Read-only file system)" in report.damaged[0]
    assert "was set aside" not in report.damaged[0]
    out = capsys.readouterr().out
    assert status == 1 and "1 could not be set aside" in out and "0 set aside" in out
    assert (cache.root / key / "record.json").exists()  # left where it was, and said so


def test_the_app_on_a_read_only_cache_says_it_could_not_set_aside(cache, monkeypatch):
    key = garbage_config(cache)
    with simulated_read_only(monkeypatch):
        record, problem = cache.check(key)
    assert record is None and "could not be set aside" in problem
    assert cache.take_problems() == [problem]


@contextlib.contextmanager
def really_read_only(path: Path):
    """`path` read-only for this process: chmod for a normal user, a read-only bind mount for root."""
    if os.geteuid() != 0:
        os.chmod(path, 0o555)
        try:
            yield
        finally:
            os.chmod(path, 0o755)
        return
    mounted = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("cannot make a read-only mount here")
    try:
        if subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], capture_output=True).returncode != 0:
            pytest.skip("cannot remount read-only here")
        yield
    finally:
        subprocess.run(["umount", str(path)], capture_output=True)


def test_verify_on_a_really_read_only_cache(cache):
    key = zero_blocks(cache)
    with really_read_only(cache.root):
        report = cache.verify()
    assert report.not_set_aside == [key] and "could not be set aside" in report.damaged[0]
    assert (cache.root / key).is_dir()


# --- temp directories left by killed writers -----------------------------------------------------


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def temp_dir(root: Path, pid: int, host: str | None = None, age: float = 0.0, size: int = 5000) -> Path:
    path = root / f".tmp-{pid}.{host or durable.host_tag()}.0123abcd-somekey"
    path.mkdir(parents=True)
    (path / "model.keras").write_bytes(b"x" * size)
    when = time.time() - age
    os.utime(path, (when, when))
    return path


def test_stale_temp_dirs_go_and_live_ones_stay(cache):
    store_sound(cache)
    killed = temp_dir(cache.root, dead_pid())
    live = temp_dir(cache.root, os.getpid())  # a save in progress in this very process
    other_host = temp_dir(cache.root, 1, host="ffffffff")
    old_other_host = temp_dir(cache.root, 1, host="eeeeeeee", age=2 * durable.STALE_SECONDS)
    removed = cache.clean_stale_tmp()
    assert sorted(removed) == sorted([killed.name, old_other_host.name])
    assert live.is_dir() and other_host.is_dir() and not killed.exists() and not old_other_host.exists()


def test_prune_and_the_next_save_clean_stale_temp_dirs(cache):
    killed = temp_dir(cache.root, dead_pid())
    assert killed.name in cache.prune().removed
    killed = temp_dir(cache.root, dead_pid())
    store_sound(cache)
    assert not killed.exists()


def test_temp_dirs_never_count_in_sizes_or_listings(cache, capsys, monkeypatch):
    record = store_sound(cache)
    size = cache.size_bytes()
    temp_dir(cache.root, os.getpid(), size=3_000_000)
    assert cache.size_bytes() == size
    assert [r.key for r in cache.runs()] == [record.key]
    assert cache.verify().ok == [record.key]
    monkeypatch.setenv("MODEL_CACHE_DIR", str(cache.root))
    main(["cache", "list"])
    out = capsys.readouterr().out
    assert f"cache use {size / 2**20:.1f} MB" in out and ".tmp-" not in out  # not the temp dir's 2.9 MB
    assert record.key in out


@pytest.mark.slow  # a second process, ~7 s
def test_a_killed_save_leaves_a_temp_dir_that_the_next_process_cleans(cache, tmp_path):
    script = (
        "import os, sys, time\n"
        "from dashboard.store import durable as c\n"
        "from dashboard.store.cache import ModelCache\n"
        "def hang(model, path):\n"
        "    path.write_bytes(b'PK partial'); print('saving', flush=True); time.sleep(60)\n"
        "c.save_model = hang\n"
        "from tests.unit.test_cache_verify import store_sound\n"
        f"store_sound(ModelCache({str(cache.root)!r}, shipped_root=None))\n"
    )
    child = subprocess.Popen([os.sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[2])
    try:
        assert child.stdout.readline().strip() == "saving"
        temps = durable.list_temp(cache.root)
        assert len(temps) == 1 and cache.clean_stale_tmp() == []  # its writer is alive: left alone
    finally:
        child.kill()
        child.wait()
    assert cache.clean_stale_tmp() == [temps[0].name] and not temps[0].exists()
