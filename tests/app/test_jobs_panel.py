"""Training as jobs in the app: Train returns at once, the job goes on across pages, the panel follows it."""

from __future__ import annotations

import json
import time

import pytest

from dashboard.jobs.job_manager import default_manager
from dashboard.jobs.job_task import POOL_LABEL
from dashboard.mnist.data import load_mnist
from dashboard.network.spec import NetworkSpec
from dashboard.store.cache import ModelCache
from dashboard.training.train_settings import TRAIN_PRESETS, TrainSettings
from dashboard.ui.jobs_panel import STATE_ICONS
from tests.app.apptools import open_page, wait_for_jobs

pytestmark = pytest.mark.slow
TRAIN, ARCHITECTURE, COMPARE = "pages/2_Train.py", "pages/1_Architecture.py", "pages/3_Compare.py"
SPEC = {"blocks": [{"filters": 4}, {"filters": 6}], "dense_units": 0}  # no other test trains it


def quick(at, seed: int, size: int, epochs: int = 1) -> None:
    """The book preset's schedule and smoothing at lr 0.004 (the page starts from fast), a few epochs and images.

    At lr 0.004, 1,000 images and seed 21 the run trains (50%); at the book's 0.001 it barely moves (14%).
    """
    book = TRAIN_PRESETS["book"]
    at.select_slider(key="train_lr").set_value(0.004)
    at.selectbox(key="train_schedule").set_value(book.schedule)
    at.select_slider(key="train_smoothing").set_value(book.label_smoothing)
    at.slider(key="train_epochs").set_value(epochs)
    at.select_slider(key="train_batch").set_value(32)
    at.checkbox(key="train_all").uncheck()
    at.slider(key="train_size").set_value(size)
    at.number_input(key="train_seed").set_value(seed)


def panel_texts(at) -> list[str]:
    """Every text of the sidebar jobs panel (markdown, captions, progress labels)."""
    out = []
    for expander in at.sidebar.expander:
        if expander.label.startswith("Training jobs"):
            out.append(expander.label)
            out += [m.value for m in expander.markdown] + [c.value for c in expander.caption]
            out += [p.proto.text for p in expander.get("progress")]
    return [text.replace("\\", "") for text in out]  # markdown escapes of outside text


def run_key(seed: int, size: int, epochs: int = 1) -> str:
    data = load_mnist("embedded")
    settings = TrainSettings(epochs=epochs, batch_size=32, train_size=size, learning_rate=0.004, seed=seed)
    return ModelCache().key(NetworkSpec.from_dict(SPEC), settings, data.fingerprint)


def test_submit_on_train_switch_page_come_back_finished_and_listed():
    at = open_page(TRAIN, {"spec": json.dumps(SPEC)}, timeout=120)
    at.radio(key="train_data").set_value("embedded").run()
    quick(at, seed=21, size=1000)
    at.button(key="train_button").click().run()
    assert not at.exception
    key = run_key(21, 1000)
    status = default_manager().job_for_key(key)
    assert status is not None and status.active  # the click returned while the job is still queued or running
    at.run()  # the panel's idle fragment reruns the page within seconds: here at once
    assert any("Training jobs" in text for text in panel_texts(at))

    at.switch_page(ARCHITECTURE).run()  # leave at once: the job goes on
    assert not at.exception
    assert panel_texts(at), "the panel is on every page"
    wait_for_jobs()
    at.run()
    texts = panel_texts(at)
    assert any("done: test accuracy" in text for text in texts), texts
    assert [link for link in at.sidebar.get("page_link") if "Compare" in link.proto.label]

    record = ModelCache().get(key)
    assert record is not None and POOL_LABEL in record.trained_on
    at.switch_page(COMPARE).run()
    assert not at.exception
    picker = at.selectbox(key="compare_run")
    assert key in picker.options or any(key[:6] in option for option in picker.options)

    # Back on Train with the same settings: the finished job's run, from the cache.
    at.switch_page(TRAIN).run()
    at.radio(key="train_data").set_value("embedded").run()
    quick(at, seed=21, size=1000)
    at.button(key="train_button").click().run()
    notes = [box.value for box in at.success]
    assert any(note.startswith("Trained on this server in ") for note in notes), notes
    assert at.metric[0].value == f"{record.test_accuracy:.2%}"
    # Another session sees the same run as a cached one.
    other = open_page(TRAIN, {"spec": json.dumps(SPEC)}, timeout=60)
    other.radio(key="train_data").set_value("embedded").run()
    quick(other, seed=21, size=1000)
    other.button(key="train_button").click().run()
    assert any(box.value.startswith("Trained before: loaded from the cache") for box in other.success)


def test_the_panel_and_the_train_page_show_a_running_job_live():
    at = open_page(TRAIN, {"spec": json.dumps(SPEC)}, timeout=120)
    at.radio(key="train_data").set_value("embedded").run()
    quick(at, seed=22, size=8000, epochs=2)
    at.button(key="train_button").click().run()
    key = run_key(22, 8000, epochs=2)
    seen: list[str] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        at.run()
        texts = panel_texts(at)
        if any("epoch" in text and "batch" in text for text in texts):
            seen = texts
            break
        time.sleep(0.5)
    assert seen, "the panel never showed epoch/batch progress"
    assert any("running accuracy" in text for text in seen)
    # The Train page's live view of this run: progress, curves and a cancel button.
    assert any("It goes on if you leave this page" in i.value for i in at.info)
    assert at.button(key=f"cancel_live_{key}")
    at.button(key=f"cancel_live_{key}").click().run()
    status = default_manager().wait(default_manager().job_for_key(key).id, 60)
    assert status.state == "cancelled"
    at.run()
    assert any("cancelled" in text for text in panel_texts(at))
    assert ModelCache().get(key) is None  # a cancelled job stores nothing


def test_a_family_is_in_the_panel_from_the_moment_it_is_submitted():
    at = open_page(TRAIN, {"spec": json.dumps(SPEC)}, timeout=120)
    at.radio(key="train_data").set_value("embedded").run()
    quick(at, seed=23, size=1000)
    at.selectbox(key="family_vary").set_value("last_filters").run()
    at.text_input(key="family_values_last_filters").set_value("2, 3").run()
    at.button(key="family_train").click().run()
    assert not at.exception
    texts = panel_texts(at)  # the very run that submitted them, with no wait
    icons = tuple(STATE_ICONS.values())
    for value in (2, 3):  # each member, with its state
        assert [t for t in texts if t.startswith(icons) and t.endswith(f"filters of the last conv layer = {value}")], texts
    assert texts[0].startswith("Training jobs (") and "active)" in texts[0], texts
    wait_for_jobs()
    at.run()
    assert sum("done: test accuracy" in text for text in panel_texts(at)) >= 2, panel_texts(at)

    # The same family and one value more: the members trained above are listed done (from the cache) at once.
    at.text_input(key="family_values_last_filters").set_value("2, 3, 5").run()
    at.button(key="family_train").click().run()
    assert not at.exception
    texts = panel_texts(at)
    labels = {value: [t for t in texts if t.startswith(icons) and t.endswith(f"filters of the last conv layer = {value}")]
              for value in (2, 3, 5)}
    assert all(labels.values()), texts
    assert all(label.startswith(STATE_ICONS["done"]) for value in (2, 3) for label in labels[value]), labels
    assert labels[5][0].startswith((STATE_ICONS["queued"], STATE_ICONS["running"])), labels
    assert sum("(trained before: from the cache)" in text for text in texts) >= 2, texts
    wait_for_jobs()
