"""Results kept beside a run (`dashboard.store.stored`, `dashboard.inspection.results`): names, bounds, round trips, refusals."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from dashboard.inspection import results
from dashboard.network.spec import BOOK, geometry
from dashboard.store import durable, stored
from dashboard.store.cache import ModelCache

FP = "0123456789abcdef"


def test_a_result_name_holds_the_kind_parts_data_and_version():
    assert stored.result_name("atlas", FP, "conv2d_2") == f"atlas-conv2d_2.{FP}.v{stored.VERSION}.npz"
    for bad in ("../x", "a/b", "[x](https://example.org)", "", "é"):
        with pytest.raises(ValueError):
            stored.result_name("atlas", FP, bad)


def test_pack_and_unpack_round_trip_and_check_names_kinds_and_ranks():
    arrays = {"a": np.arange(5, dtype=np.uint8), "b": np.ones((2, 3), np.float32)}
    data = stored.pack(arrays)
    back = stored.unpack(data, {"a": ("iu", 1), "b": ("f", 2)})
    assert back is not None and np.array_equal(back["a"], arrays["a"]) and np.array_equal(back["b"], arrays["b"])
    assert stored.unpack(data, {"a": ("iu", 1)}) is None  # an extra array
    assert stored.unpack(data, {"a": ("iu", 1), "b": ("f", 2), "c": ("f", 1)}) is None  # a missing one
    assert stored.unpack(data, {"a": ("f", 1), "b": ("f", 2)}) is None  # wrong kind
    assert stored.unpack(data, {"a": ("iu", 2), "b": ("f", 2)}) is None  # wrong rank


@pytest.mark.parametrize("data", [b"", b"not a zip", b"PK\x03\x04" + b"\0" * 100])
def test_garbage_reads_as_absent(data):
    assert stored.unpack(data, {"a": ("f", 1)}) is None


def test_pickled_objects_are_never_loaded():
    buffer = io.BytesIO()
    np.savez(buffer, a=np.array([{"x": 1}], dtype=object))
    assert stored.unpack(buffer.getvalue(), {"a": ("O", 1)}) is None


def test_a_member_that_unpacks_too_big_is_refused_before_unpacking():
    buffer = io.BytesIO()
    np.savez_compressed(buffer, a=np.zeros(stored.MAX_UNPACKED_BYTES // 4 + 1024, np.float32))
    assert len(buffer.getvalue()) < 1 << 20  # small on disk: a zip bomb in miniature
    assert stored.unpack(buffer.getvalue(), {"a": ("f", 1)}) is None


def test_a_header_that_declares_more_than_its_data_is_refused_before_allocating():
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**10,)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.npy", header.getvalue() + b"\0" * 64)  # 40 GB declared, 64 bytes there
    assert stored.unpack(buffer.getvalue(), {"a": ("f", 1)}) is None


def test_too_many_members_are_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(stored.MAX_ARRAYS + 1):
            archive.writestr(f"a{i}.npy", b"")
    assert stored.unpack(buffer.getvalue(), {"a0": ("f", 1)}) is None


def test_write_then_read_atomically_and_refuse_bad_names_and_places(tmp_path):
    entry = tmp_path / "run"
    entry.mkdir()
    name = stored.result_name("ablation", FP)
    assert stored.write(entry, name, b"abc")
    assert stored.read(entry, name) == b"abc"
    assert [p.name for p in (entry / stored.RESULTS_DIR).iterdir()] == [name]  # no temp file left
    assert stored.read(entry, "../record.json") is None and not stored.write(entry, "../x.npz", b"x")
    assert not stored.write(tmp_path / "absent", name, b"abc")
    (entry / stored.RESULTS_DIR / name).write_bytes(b"x" * (stored.MAX_FILE_BYTES + 1))
    assert stored.read(entry, name) is None  # too big: not read
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / stored.RESULTS_DIR).write_text("a file where the folder would be")
    assert not stored.write(blocked, name, b"abc")


def test_a_killed_writes_temp_file_is_removed_by_a_later_write_but_a_live_one_is_not(tmp_path):
    import os
    import time

    folder = tmp_path / stored.RESULTS_DIR
    folder.mkdir()
    old, live = folder / ".tmp-1-dead", folder / ".tmp-2-live"
    old.write_bytes(b"half")
    live.write_bytes(b"half")
    an_hour_ago = time.time() - durable.STALE_SECONDS - 60
    os.utime(old, (an_hour_ago, an_hour_ago))
    assert stored.write(tmp_path, stored.result_name("ablation", FP), b"abc")
    assert not old.exists() and live.exists()


def test_results_of_a_shipped_run_computed_here_go_under_the_root_never_into_the_run(tmp_path):
    shipped_root, root = tmp_path / "shipped", tmp_path / "root"
    (shipped_root / "aaaa").mkdir(parents=True)
    (root / "bbbb").mkdir(parents=True)
    cache = ModelCache(root, shipped_root=shipped_root)
    name = stored.result_name("predictions", FP)
    assert cache.write_result("aaaa", name, b"here") and cache.read_result("aaaa", name) == b"here"
    assert not (shipped_root / "aaaa" / stored.RESULTS_DIR).exists()
    assert (root / ".results" / "aaaa" / stored.RESULTS_DIR / name).read_bytes() == b"here"
    assert cache.write_result("aaaa", name, b"made", shipped=True)  # the tool that makes shipped results
    assert cache.read_result("aaaa", name) == b"made"  # the shipped run's own results come first
    assert cache.write_result("bbbb", name, b"y") and cache.read_result("bbbb", name) == b"y"
    assert cache.read_result("cccc", name) is None and not cache.write_result("cccc", name, b"z")
    assert cache.read_result("../root/bbbb", name) is None
    assert [r.key for r in cache.runs()] == []  # .results/ is never taken for an entry (none is sound here)


# --- the kinds ---------------------------------------------------------------------------------


def test_predictions_come_back_only_for_the_labels_they_were_scored_on():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 300)
    predicted, confidence = rng.integers(0, 10, 300), rng.random(300).astype(np.float32)
    data = results.predictions_bytes(predicted, confidence, labels)
    back = results.predictions_from(data, labels)
    assert back is not None
    assert np.array_equal(back[0], predicted) and np.array_equal(back[1], confidence)
    assert results.predictions_from(data, (labels + 1) % 10) is None  # another test set
    assert results.predictions_from(data, labels[:-1]) is None


def test_a_projection_comes_back_only_onto_the_test_images_it_names():
    rng = np.random.default_rng(1)
    y_test = rng.integers(0, 10, 500)
    indices = np.sort(rng.choice(500, 50, replace=False))
    proj = {"coords": rng.normal(size=(50, 2)).astype(np.float32), "labels": y_test[indices],
            "indices": indices, "predicted": y_test[indices], "explained": np.array([0.3, 0.1], np.float32)}
    back = results.projection_from(results.projection_bytes(proj), y_test)
    assert back is not None
    for name in ("coords", "labels", "indices", "predicted", "explained"):
        np.testing.assert_array_equal(back[name], proj[name])
    assert results.projection_from(results.projection_bytes({**proj, "explained": None}), y_test)["explained"] is None
    assert results.projection_from(results.projection_bytes(proj), y_test[:40]) is None  # an index past the end
    assert results.projection_from(results.projection_bytes(proj), (y_test + 1) % 10) is None


def test_an_ablation_comes_back_only_for_its_map_shape():
    from dashboard.inspection.ablation import Ablation

    ablation = Ablation(baseline=0.98, zero_one=np.full((3, 3), 0.9, np.float32), keep_one=np.full((3, 3), 0.3),
                        channel_accuracy=np.linspace(0.5, 0.9, 4), channel_order=np.array([0, 1, 2, 3]), n_images=200)
    data = results.ablation_bytes(ablation)
    back = results.ablation_from(data, 3, 4)
    assert back is not None and back.baseline == pytest.approx(0.98) and back.n_images == 200
    np.testing.assert_array_equal(back.zero_one, ablation.zero_one)
    np.testing.assert_array_equal(back.channel_order, ablation.channel_order)
    assert results.ablation_from(data, 5, 4) is None and results.ablation_from(data, 3, 64) is None


def test_an_atlas_comes_back_with_its_crops_cut_again_from_the_test_images():
    from dashboard.inspection import channel_atlas

    geo = next(g for g in geometry(BOOK) if g.name == "conv2d_1")  # 5×5×64, receptive field 8
    rng = np.random.default_rng(2)
    x_test = rng.integers(0, 256, (40, 28, 28), dtype=np.uint8)
    c, k = geo.channels, 9
    chosen = rng.integers(0, 30, (c, k))
    positions = rng.integers(0, geo.size, (c, k, 2))
    windows = channel_atlas.windows_of(rng.random((c, k)).astype(np.float32), chosen, positions, x_test[:30], geo)
    original = channel_atlas.Atlas("conv2d_1", windows, rng.random((c, 28, 28)).astype(np.float32),
                           rng.random(c).astype(np.float32), rng.random(c).astype(np.float32), n_images=30)
    back = results.atlas_from(results.atlas_bytes(original), "conv2d_1", geo, x_test)
    assert back is not None and back.n_images == 30 and back.channels == c
    np.testing.assert_array_equal(back.windows.crops, windows.crops)
    np.testing.assert_array_equal(back.windows.images, windows.images)
    np.testing.assert_allclose(back.patterns, original.patterns, atol=1e-3)  # float16 on disk
    other = next(g for g in geometry(BOOK) if g.name == "conv2d")  # 32 channels: not this atlas
    assert results.atlas_from(results.atlas_bytes(original), "conv2d", other, x_test) is None
    assert results.atlas_from(results.atlas_bytes(original), "conv2d_1", geo, x_test[:20]) is None  # fewer images
