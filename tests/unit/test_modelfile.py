"""Model files from outside: inspected as data and measured without Keras, refused with a reason."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import h5py
import keras
import pytest
from keras import layers

from dashboard.modelfiles.modelfile import MAX_FILE_BYTES, ModelFileError, inspect_model_file, load_checked
from tests import keras_models as km

FORMATS = ("keras", "h5")


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[tuple[str, str], tuple[keras.Model, Path]]:
    """Every test model saved in both formats: {(name, format): (model, path)}."""
    folder = tmp_path_factory.mktemp("models")
    out = {}
    for name, build in {**km.BUILDERS, "branching": km.branching}.items():
        model = build()
        for suffix in FORMATS:
            out[name, suffix] = model, km.save(model, folder, name, suffix)
    return out


def keras_rows(model: keras.Model) -> list[tuple[str, tuple, int]]:
    """(name, output shape without batch, params) per layer, as Keras reports them."""
    return [(layer.name, tuple(layer.output.shape[1:]), layer.count_params()) for layer in model.layers
            if type(layer).__name__ != "InputLayer"]


@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize("name", sorted(km.BUILDERS))
def test_summary_matches_keras_and_hand_worked_fields(saved, name, suffix):
    model, path = saved[name, suffix]
    found = inspect_model_file(path.read_bytes(), path.name)
    assert [(r.name, r.shape, r.params) for r in found.rows] == keras_rows(model)
    assert found.params == model.count_params()
    assert [(r.receptive_field, r.jump) for r in found.rows] == km.RECEPTIVE_FIELDS[name]
    assert found.chain and found.file_format == suffix
    loaded = load_checked(path.read_bytes(), found)
    assert loaded.count_params() == model.count_params()


def test_key_is_the_files_sha256(saved):
    import hashlib

    _, path = saved["book", "keras"]
    data = path.read_bytes()
    assert inspect_model_file(data).sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("suffix", FORMATS)
def test_branching_model_is_measured_without_receptive_fields(saved, suffix):
    model, path = saved["branching", suffix]
    found = inspect_model_file(path.read_bytes(), path.name)
    assert not found.chain
    assert [(r.name, r.shape, r.params) for r in found.rows] == keras_rows(model)
    assert all(r.receptive_field is None for r in found.rows)


# --- code in model files is refused before it can run ------------------------------------------


def marker_lambda(marker: Path):
    """A function whose code (not a closure: the path is a constant in its bytecode) creates `marker`."""
    return eval(f"lambda t: (__import__('pathlib').Path({str(marker)!r}).touch(), t)[1]")  # noqa: S307


def test_legacy_h5_lambda_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "lambda-ran"
    inputs = keras.Input((28, 28, 1))
    x = layers.Lambda(marker_lambda(marker))(inputs)
    outputs = layers.Dense(10, activation="softmax")(layers.Flatten()(x))
    path = tmp_path / "evil.h5"
    keras.Model(inputs, outputs).save(path)
    assert marker.exists()  # building the model ran the code: the file really carries it
    marker.unlink()
    assert "__lambda__" in h5py.File(path, "r").attrs["model_config"]  # marshalled bytecode inside

    with pytest.raises(ModelFileError, match="Lambda layer: it carries Python code"):
        inspect_model_file(path.read_bytes(), path.name)
    assert not marker.exists()

    # Control: Keras without safe mode would have run it; the check above is what stops it.
    keras.saving.load_model(path, safe_mode=False, compile=False)
    assert marker.exists()


def test_keras_lambda_is_refused(tmp_path):
    marker = tmp_path / "lambda-ran"
    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Lambda(marker_lambda(marker)), layers.Flatten(),
                              layers.Dense(10)])
    path = km.save(model, tmp_path, "lambda", "keras")
    marker.unlink()
    with pytest.raises(ModelFileError, match="Lambda"):
        inspect_model_file(path.read_bytes(), path.name)
    assert not marker.exists()


@keras.saving.register_keras_serializable(package="learner")
class Doubler(layers.Layer):
    """A custom layer a notebook might define."""

    def call(self, inputs):
        return inputs * 2


@pytest.mark.parametrize("suffix", FORMATS)
def test_custom_layer_is_refused_by_name(tmp_path, suffix):
    model = keras.Sequential([keras.Input((28, 28, 1)), Doubler(name="twice"), layers.Flatten(), layers.Dense(10)])
    path = km.save(model, tmp_path, "custom", suffix)
    with pytest.raises(ModelFileError, match=r"layer 2 \('twice'\) is a (learner>)?Doubler layer, which the app cannot use"):
        inspect_model_file(path.read_bytes(), path.name)


@keras.saving.register_keras_serializable(package="learner")
def shifted_relu(x):
    """A custom activation: a registered function."""
    return keras.activations.relu(x - 0.1)


def test_registered_function_reference_is_refused(tmp_path):
    model = keras.Sequential([keras.Input((784,)), layers.Dense(10, activation=shifted_relu)])
    path = km.save(model, tmp_path, "registered", "keras")
    with pytest.raises(ModelFileError, match="outside Keras|registered custom object|unknown"):
        inspect_model_file(path.read_bytes(), path.name)


def rewrite_keras(path: Path, config_change) -> bytes:
    """The .keras archive at `path` with its config.json replaced by `config_change(config)`."""
    source = zipfile.ZipFile(path)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "config.json":
                data = json.dumps(config_change(json.loads(data))).encode()
            target.writestr(info.filename, data)
    return out.getvalue()


def test_module_outside_keras_is_refused(saved):
    def poison(config):
        config["config"]["layers"][1]["module"] = "os"
        return config

    with pytest.raises(ModelFileError, match="outside Keras \\(module 'os'\\)"):
        inspect_model_file(rewrite_keras(saved["book", "keras"][1], poison))


# --- limits ------------------------------------------------------------------------------------


def test_colour_32x32_model_is_refused_with_the_reason(tmp_path):
    model = keras.Sequential([keras.Input((32, 32, 3)), layers.Conv2D(2, 3), layers.Flatten(), layers.Dense(10)])
    path = km.save(model, tmp_path, "cifar", "keras")
    with pytest.raises(ModelFileError, match=r"takes \(32, 32, 3\) inputs.*\(28, 28, 1\).*colour 32×32"):
        inspect_model_file(path.read_bytes())


def test_declared_huge_layer_is_refused_before_keras_builds_it(saved):
    def inflate(config):
        config["config"]["layers"][-2]["config"]["units"] = 100_000  # Dense(16) → 100,000 units
        return config

    with pytest.raises(ModelFileError, match=r"parameters; at most 5,000,000"):
        inspect_model_file(rewrite_keras(saved["book", "keras"][1], inflate))


def test_too_large_upload():
    with pytest.raises(ModelFileError, match="at most 20 MB"):
        inspect_model_file(b"PK" + bytes(MAX_FILE_BYTES))


def test_archive_unpacking_too_large_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("model.weights.h5", bytes(80 * 2**20))  # 80 MB of zeros, ~80 KB packed
    assert len(out.getvalue()) < 1 * 2**20
    with pytest.raises(ModelFileError, match="unpacks to 80 MB; at most 64 MB"):
        inspect_model_file(out.getvalue())


def test_truncated_archive(saved):
    data = saved["book", "keras"][1].read_bytes()
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        inspect_model_file(data[: len(data) // 2])


def test_truncated_h5(saved):
    data = saved["book", "h5"][1].read_bytes()
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        inspect_model_file(data[: len(data) // 2])


def test_zip_of_something_else():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "my homework")
    with pytest.raises(ModelFileError, match="not a Keras model \\(it has no config.json\\)"):
        inspect_model_file(out.getvalue(), "homework.keras")


def test_h5_with_no_model(tmp_path):
    path = tmp_path / "only.weights.h5"
    km.book().save_weights(path)
    with pytest.raises(ModelFileError, match="holds no model"):
        inspect_model_file(path.read_bytes())


def test_neither_format():
    with pytest.raises(ModelFileError, match="neither a .keras archive nor an .h5 file"):
        inspect_model_file(b"print('hello')\n")


def test_deeply_nested_config_is_refused_before_parsing(saved):
    def deepen(config):
        nested: list = []
        for _ in range(200):
            nested = [nested]
        config["config"]["extra"] = nested
        return config

    with pytest.raises(ModelFileError, match="nested too deeply"):
        inspect_model_file(rewrite_keras(saved["book", "keras"][1], deepen))


def test_output_must_be_ten_classes(tmp_path):
    model = keras.Sequential([keras.Input((784,)), layers.Dense(3)])
    with pytest.raises(ModelFileError, match="outputs \\(3,\\)"):
        inspect_model_file(km.save(model, tmp_path, "three", "keras").read_bytes())
