"""The Train page's decisions: widget values ↔ settings, which data differ, what a run's state shows."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as hst

from dashboard.jobs.job_status import JobStatus
from dashboard.mnist.data import load_mnist
from dashboard.network.spec import BOOK, PRESETS
from dashboard.store.run import make_key
from dashboard.training.train_settings import TRAIN_PRESETS, SettingsError, TrainSettings
from dashboard.views import train_form as form
from tests.unit.test_run import trained


@pytest.mark.parametrize("name", list(TRAIN_PRESETS))
def test_a_preset_survives_the_form(name):
    values = form.preset_values(name)
    assert values["train_all"] is True and form.fits_form(TRAIN_PRESETS[name])
    values["train_size"] = 500  # the slider keeps a value even when unused
    assert form.settings_from_values(values, 60_000) == TRAIN_PRESETS[name]


def test_a_size_at_or_over_the_data_is_all_images():
    values = {**form.preset_values("book"), "train_all": False, "train_size": 12_000}
    assert form.settings_from_values(values, 12_000).train_size is None
    values["train_size"] = 5_000
    assert form.settings_from_values(values, 12_000).train_size == 5_000
    assert form.widget_values(replace(TRAIN_PRESETS["book"], train_size=5_000))["train_size"] == 5_000


def test_the_size_slider_stays_inside_its_range():
    assert form.size_max(12_000) == 12_000 and form.size_max(12_345) == 12_000 and form.size_max(10) == form.SIZE_STEP
    assert form.clamp_size(99_999, 12_000) == 12_000 and form.clamp_size(3, 12_000) == form.SIZE_STEP
    assert form.clamp_size("junk", 60_000) == 60_000


def test_values_no_widget_offers_are_refused():
    with pytest.raises(SettingsError):
        form.settings_from_values({**form.preset_values("book"), "train_epochs": 0}, 60_000)
    assert not form.fits_form(TrainSettings(batch_size=100))
    assert not form.fits_form(TrainSettings(warmup=0.1))


def test_offline_the_apps_data_and_the_embedded_subset_are_one_choice():
    embedded = load_mnist("embedded")
    assert form.data_choices(embedded, embedded) == {"embedded": f"embedded subset ({len(embedded.x_train):,} images)"}
    bigger = replace(embedded, x_train=embedded.x_train[:6000], y_train=embedded.y_train[:6000], source="file")
    choices = form.data_choices(bigger, embedded)
    assert list(choices) == ["auto", "embedded"] and choices["auto"] == "MNIST file (6,000 images)"


def _job(key: str, state: str, **changes) -> JobStatus:
    return JobStatus(id=f"{key}-1", key=key, label="x", state=state, submitted=0.0, **changes)


def test_the_view_finds_the_cached_run_and_the_runs_of_the_same_network():
    data = load_mnist("embedded")
    book = TRAIN_PRESETS["book"]
    key = make_key(BOOK, book, data.fingerprint)
    full = trained("full1", BOOK, book, data_fingerprint="full-fp", created="2026-01-02T00:00:00+00:00",
                   data_source="file", data_label="file (60,000 train + 10,000 test images)")
    fast_here = trained("fast1", BOOK, TRAIN_PRESETS["fast"], data_fingerprint=data.fingerprint,
                        created="2026-01-01T00:00:00+00:00")
    other_net = trained("tiny1", PRESETS["tiny"], book, data_fingerprint=data.fingerprint)
    runs = [full, fast_here, other_net]

    view = form.train_view(BOOK, book, data, runs, lambda k: None, available=[data.fingerprint])
    assert view.key == key and view.record is None and view.state == "new"
    # Runs on data this server has first (they can be shown on the page), then the others.
    assert [r.key for r in view.related] == ["fast1", "full1"]
    assert view.alike is full  # the same settings on other data

    cached = replace(fast_here, key=key, settings=book)
    view = form.train_view(BOOK, book, data, [*runs, cached], lambda k: None, available=[data.fingerprint])
    assert view.state == "cached" and view.record is cached and cached not in view.related


@pytest.mark.parametrize(("state", "record", "expected"), [
    ("running", None, "training"), ("queued", None, "training"), ("failed", None, "failed"),
    ("cancelled", None, "cancelled"), ("done", "record", "unstored"), ("done", None, "new"),
])
def test_the_views_state_follows_the_job(state, record, expected):
    data = load_mnist("embedded")
    run = trained() if record else None
    view = form.train_view(BOOK, TRAIN_PRESETS["book"], data, [], lambda k: _job(k, state, record=run))
    assert view.state == expected


def test_a_network_too_big_is_said_so_unless_cached():
    data = load_mnist("embedded")
    from dashboard.network.spec import ConvBlock, NetworkSpec

    huge = NetworkSpec(blocks=(ConvBlock(256, kernel_size=7, padding="same", pool=False),) * 6, dense_units=512)
    view = form.train_view(huge, TRAIN_PRESETS["book"], data, [], lambda k: None)
    assert view.state == "too big" and "118,836,490 parameters" in view.too_big[0]


def test_job_states_are_shown_with_material_icons_not_emoji():
    from dashboard.jobs.job_status import ACTIVE, CANCELLED, DONE, FAILED
    from dashboard.ui.jobs_panel import STATE_ICONS

    assert set(STATE_ICONS) == {*ACTIVE, DONE, FAILED, CANCELLED}
    assert all(icon.startswith(":material/") and icon.endswith(":") for icon in STATE_ICONS.values())


# --- settings in a link --------------------------------------------------------------------------

@hsettings(max_examples=60, deadline=None)
@given(preset=hst.sampled_from(list(form.TRAIN_PRESETS)), epochs=hst.integers(form.MIN_EPOCHS, form.MAX_EPOCHS),
       batch=hst.sampled_from(form.BATCH_SIZES), optimizer=hst.sampled_from(form.OPTIMIZERS),
       lr=hst.sampled_from(form.LEARNING_RATES), schedule=hst.sampled_from(form.SCHEDULES),
       smoothing=hst.sampled_from(form.SMOOTHINGS), size=hst.one_of(hst.none(), hst.integers(1, 100)),
       seed=hst.integers(0, form.MAX_SEED))
def test_any_form_settings_survive_a_link(preset, epochs, batch, optimizer, lr, schedule, smoothing, size, seed):
    values = {"train_epochs": epochs, "train_batch": batch, "train_optimizer": optimizer, "train_lr": lr,
              "train_schedule": schedule, "train_smoothing": smoothing, "train_seed": seed,
              "train_all": size is None}
    if size is not None:
        values["train_size"] = size * form.SIZE_STEP
    text = form.settings_to_link(values, preset)
    assert text is None or form._PART.match(text.split("~")[0])
    decoded, warning = form.settings_from_link(preset, text)
    assert warning is None and decoded == values


def test_a_links_bad_parts_fall_back_to_the_preset_and_are_quoted_flat():
    values, warning = form.settings_from_link("book", "2ep~lr0.5~b64~<script>\nx~" + "z" * 100)
    assert values["train_epochs"] == 2 and values["train_lr"] == form.TRAIN_PRESETS["book"].learning_rate
    assert warning.startswith("Ignored training settings 'lr0.5', '<script> x', '" + "z" * 10) and "\n" not in warning
    assert form.settings_from_link("fast", "1ep" * 200)[1].startswith("The link's training settings are too long")
