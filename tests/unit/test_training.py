"""Training settings, the validation split, schedules, progress callbacks and reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dashboard.mnist.data import load_mnist, to_model_input
from dashboard.network.spec import ConvBlock, NetworkSpec
from dashboard.training.optim import ONE_CYCLE_START, learning_rate_schedule, make_optimizer
from dashboard.training.train_settings import TRAIN_PRESETS, SettingsError, TrainSettings, train_preset_name
from dashboard.training.trainer import BatchProgress, EpochProgress, split_sizes, steps_per_epoch, train
from tests.marks import trains

MICRO = NetworkSpec(blocks=(ConvBlock(4), ConvBlock(8)), dense_units=0)  # ~1.4k params: trains in ~1 s
QUICK = TrainSettings(epochs=1, batch_size=32, train_size=400)


@pytest.fixture(scope="module")
def data():
    return load_mnist("embedded")


@pytest.fixture(scope="module")
@trains
def quick_run(data):
    """One 1-epoch training on 400 images with every callback recording."""
    batches: list[BatchProgress] = []
    epochs: list[EpochProgress] = []
    result = train(MICRO, QUICK, data, on_batch=batches.append, on_epoch=epochs.append)
    return result, batches, epochs


# --- settings --------------------------------------------------------------------------------


def test_book_preset_is_the_books_settings():
    book = TRAIN_PRESETS["book"]
    assert (book.optimizer, book.batch_size, book.epochs, book.learning_rate) == ("rmsprop", 64, 5, 1e-3)
    assert book.schedule == "constant" and book.train_size is None
    assert TrainSettings() == book  # the defaults are the book's


def test_fast_preset_is_valid_and_named():
    assert train_preset_name(TRAIN_PRESETS["fast"]) == "fast"
    assert train_preset_name(TrainSettings(epochs=3)) is None


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"epochs": 0}, "epochs must be 1 to 20"),
        ({"epochs": 21}, "epochs must be 1 to 20"),
        ({"batch_size": 4}, "batch size"),
        ({"optimizer": "sgd"}, "optimizer must be one of rmsprop, adam"),
        ({"learning_rate": 0.0}, "learning rate"),
        ({"learning_rate": float("nan")}, "learning rate"),
        ({"learning_rate": 5.0}, "learning rate"),
        ({"train_size": 10}, "training-set size must be at least"),
        ({"seed": -1}, "seed must be"),
        ({"schedule": "step"}, "schedule must be one of"),
        ({"epochs": True}, "'epochs' must be a whole number"),
        ({"epochs": 2.5}, "'epochs' must be a whole number"),
        ({"warmup": 0.6}, "warm-up must be 0 to 0.5"),
        ({"warmup": -0.1}, "warm-up must be 0 to 0.5"),
        ({"warmup": float("nan")}, "warm-up must be 0 to 0.5"),
        ({"warmup": 0.1, "schedule": "one_cycle"}, "cannot be combined with one_cycle"),
        ({"label_smoothing": 0.5}, "label smoothing must be 0 to 0.3"),
        ({"label_smoothing": float("nan")}, "label smoothing must be 0 to 0.3"),
        ({"label_smoothing": "0.1"}, "'label_smoothing' must be a number"),
    ],
    ids=["epochs-0", "epochs-21", "batch-4", "sgd", "lr-0", "lr-nan", "lr-5", "size-10", "seed-neg",
         "schedule", "epochs-bool", "epochs-float", "warmup-big", "warmup-neg", "warmup-nan",
         "warmup-one-cycle", "smoothing-big", "smoothing-nan", "smoothing-str"],
)
def test_bad_settings_are_refused_with_a_clear_message(changes, words):
    with pytest.raises(SettingsError) as err:
        TrainSettings(**changes)
    assert words in str(err.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(SettingsError) as err:
        TrainSettings(epochs=0, optimizer="sgd", seed=-3)
    assert len(err.value.problems) == 3


def test_settings_round_trip_through_json_dict():
    settings = TrainSettings(epochs=3, batch_size=128, optimizer="adam", learning_rate=0.002, train_size=5000,
                             seed=7, schedule="cosine")
    assert TrainSettings.from_dict(settings.to_dict()) == settings
    later = TrainSettings(optimizer="nadam", schedule="linear", warmup=0.1, label_smoothing=0.05)
    assert TrainSettings.from_dict(later.to_dict()) == later
    assert later.to_dict()["warmup"] == 0.1 and later.to_dict()["label_smoothing"] == 0.05


def test_fields_added_later_are_left_out_while_zero_so_old_keys_stay():
    """Runs cached before `warmup` and `label_smoothing` existed keep their keys."""
    from dashboard.network.spec import BOOK
    from dashboard.store.cache import make_key

    old_layout = {"epochs", "batch_size", "optimizer", "learning_rate", "train_size", "seed", "schedule"}
    assert set(TRAIN_PRESETS["book"].to_dict()) == old_layout
    # the shipped book run's key (model_cache/shipped/5ac6e14cdfcf409e): warmup and label_smoothing left out at 0
    assert make_key(BOOK, TRAIN_PRESETS["book"], "ba5fa40a5c4923a7") == "5ac6e14cdfcf409e"
    assert TrainSettings.from_dict({**TRAIN_PRESETS["book"].to_dict(), "warmup": 0, "label_smoothing": 0.0}) \
        == TRAIN_PRESETS["book"]


@pytest.mark.parametrize("name, cls", [("rmsprop", "RMSprop"), ("adam", "Adam"), ("adamw", "AdamW"), ("nadam", "Nadam")])
def test_every_optimizer_is_the_keras_one(name, cls):
    assert type(make_optimizer(TrainSettings(optimizer=name), total_steps=10)).__name__ == cls


@pytest.mark.parametrize(
    "data, words",
    [
        ({"epochs": 2, "momentum": 0.9}, "unknown training setting(s) 'momentum'"),
        ({"epochs": "2"}, "'epochs' must be a whole number"),
        ({"learning_rate": "fast"}, "'learning_rate' must be a number"),
        ({"train_size": 1.5}, "'train_size' must be a whole number or null"),
        ([1, 2], "must be an object"),
    ],
    ids=["unknown-key", "string-epochs", "string-lr", "float-size", "not-a-dict"],
)
def test_from_dict_is_strict(data, words):
    with pytest.raises(SettingsError) as err:
        TrainSettings.from_dict(data)
    assert words in str(err.value)


def test_from_dict_accepts_an_integer_learning_rate_as_float():
    assert TrainSettings.from_dict({"learning_rate": 1}).learning_rate == 1.0


# --- split and schedules ---------------------------------------------------------------------


@pytest.mark.parametrize("n", [100, 1000, 1005, 12000, 54321, 60000], ids=str)
def test_validation_split_matches_keras(n):
    from keras.src.trainers.data_adapters.array_slicing import train_validation_split

    x = np.arange(n)
    (fit,), (val,) = train_validation_split((x,), validation_split=0.1)
    assert split_sizes(n) == (len(fit), len(val))
    assert np.array_equal(np.asarray(val), x[split_sizes(n)[0]:])  # the last 10%


@pytest.mark.parametrize("schedule", ["constant", "cosine", "linear", "one_cycle"])
def test_learning_rate_schedules(schedule):
    settings = TrainSettings(learning_rate=0.004, schedule=schedule)
    rate = learning_rate_schedule(settings, total_steps=100)
    if schedule == "constant":
        assert rate == 0.004
        return
    values = [float(rate(step)) for step in range(101)]
    assert values[-1] == pytest.approx(0.0, abs=1e-6)  # every decay ends at zero
    assert max(values) == pytest.approx(0.004, rel=1e-4)  # and never exceeds the peak
    if schedule == "one_cycle":
        assert values[0] == pytest.approx(0.004 * ONE_CYCLE_START, rel=1e-3)
        assert int(np.argmax(values)) == 30  # warm-up is 30% of the steps
    else:
        assert values[0] == pytest.approx(0.004)
    if schedule == "linear":
        assert values[50] == pytest.approx(0.002, rel=1e-3)


@pytest.mark.parametrize("schedule", ["constant", "cosine", "linear"])
def test_warmup_rises_linearly_to_the_peak_then_follows_the_schedule(schedule):
    settings = TrainSettings(learning_rate=0.004, schedule=schedule, warmup=0.2)
    rate = learning_rate_schedule(settings, total_steps=100)
    values = np.array([float(rate(step)) for step in range(101)])
    assert values[:20] == pytest.approx(0.004 * np.arange(1, 21) / 20, rel=1e-4)  # 20 warm-up steps
    assert values.max() == pytest.approx(0.004, rel=1e-5)
    after = values[20:]
    if schedule == "constant":
        assert after == pytest.approx(0.004)
        return
    assert np.all(np.diff(after) <= 1e-9) and after[-1] == pytest.approx(0.0, abs=1e-9)  # decays to 0
    middle = 20 + 40  # halfway through the 80 steps after the warm-up
    assert values[middle] == pytest.approx(0.002, rel=1e-3)  # linear and cosine agree halfway
    if schedule == "linear":
        assert np.diff(after) == pytest.approx(-0.004 / 80, rel=1e-3)


# --- training ---------------------------------------------------------------------------------


def test_validation_is_the_last_tenth_and_test_accuracy_is_the_test_set(data, quick_run):
    result, _, _ = quick_run
    n_fit, n_val = split_sizes(400)
    assert (result.train_images, result.val_images) == (n_fit, n_val) == (360, 40)
    model = result.model
    val_pred = model.predict(to_model_input(data.x_train[n_fit:400]), verbose=0).argmax(axis=1)
    assert result.history["val_accuracy"][-1] == pytest.approx(np.mean(val_pred == data.y_train[n_fit:400]), abs=1e-6)
    test_pred = model.predict(to_model_input(data.x_test), verbose=0).argmax(axis=1)
    assert result.test_accuracy == pytest.approx(np.mean(test_pred == data.y_test), abs=1e-6)


def test_history_has_one_value_per_epoch_for_every_metric(quick_run):
    result, _, _ = quick_run
    assert set(result.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 1 and math.isfinite(values[0]) for values in result.history.values())
    assert result.train_seconds > 0


def test_progress_callbacks_move_within_the_epoch(quick_run):
    _, batches, epochs = quick_run
    total = steps_per_epoch(360, 32)
    assert batches[-1].batch == batches[-1].batches == total  # the last batch is always reported
    fractions = [b.fraction for b in batches]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert all(0 <= b.accuracy <= 1 and b.loss > 0 for b in batches)
    assert [e.epoch for e in epochs] == [1]
    assert epochs[0].history["val_accuracy"] == quick_run[0].history["val_accuracy"]


@pytest.mark.slow  # trains
def test_same_inputs_give_the_same_model_and_another_seed_does_not(data, quick_run):
    again = train(MICRO, QUICK, data)
    first = quick_run[0]
    assert again.history == first.history
    assert all(np.array_equal(a, b) for a, b in zip(first.model.get_weights(), again.model.get_weights()))
    other = train(MICRO, TrainSettings(epochs=1, batch_size=32, train_size=400, seed=1), data)
    assert not np.array_equal(other.model.get_weights()[0], first.model.get_weights()[0])


@pytest.mark.slow  # trains
def test_same_result_on_another_thread(data, quick_run):
    """Streamlit trains on its script threads: the seed must be set there, not only at import."""
    import threading

    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("r", train(MICRO, QUICK, data)))
    thread.start()
    thread.join()
    assert out["r"].history == quick_run[0].history


@pytest.mark.slow  # trains
def test_an_exception_from_a_callback_stops_the_training(data):
    class Stop(BaseException):  # Streamlit's StopException is a BaseException too
        pass

    seen = []

    def stop_at_second(progress: BatchProgress) -> None:
        seen.append(progress.batch)
        if len(seen) == 2:
            raise Stop

    with pytest.raises(Stop):
        train(MICRO, TrainSettings(epochs=3, batch_size=8, train_size=2000), data, on_batch=stop_at_second)
    assert len(seen) == 2


@pytest.mark.slow  # trains
def test_label_smoothing_trains_on_the_smoothed_cross_entropy(data):
    """The reported validation loss is Keras's smoothed cross-entropy, recomputed here by hand."""
    settings = TrainSettings(epochs=1, batch_size=32, train_size=400, label_smoothing=0.2)
    result = train(MICRO, settings, data)
    n_fit, _ = split_sizes(400)
    probs = result.model.predict(to_model_input(data.x_train[n_fit:400]), verbose=0).astype(np.float64)
    targets = np.full(probs.shape, 0.2 / 10)
    targets[np.arange(len(probs)), data.y_train[n_fit:400]] += 0.8
    smoothed = float(np.mean(-np.sum(targets * np.log(np.clip(probs, 1e-7, 1.0)), axis=1)))
    assert result.history["val_loss"][0] == pytest.approx(smoothed, rel=1e-3)
    plain = float(np.mean(-np.log(probs[np.arange(len(probs)), data.y_train[n_fit:400]])))
    assert abs(smoothed - plain) > 1e-3  # the smoothing made a difference
    test_pred = result.model.predict(to_model_input(data.x_test), verbose=0).argmax(axis=1)
    assert result.test_accuracy == pytest.approx(np.mean(test_pred == data.y_test), abs=1e-6)


@pytest.mark.slow  # trains
def test_train_size_larger_than_the_data_uses_everything(data):
    small = load_mnist("embedded")
    tiny = type(small)(small.x_train[:150], small.y_train[:150], small.x_test[:50], small.y_test[:50], "embedded", "")
    result = train(MICRO, TrainSettings(epochs=1, batch_size=64, train_size=1000), tiny)
    assert (result.train_images, result.val_images) == (135, 15)
