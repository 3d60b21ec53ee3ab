"""The Import page: upload a model file, see it checked, measured and listed; then explore it."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers
from streamlit.testing.v1 import AppTest

from dashboard.mnist.data import load_mnist
from dashboard.store.cache import ModelCache
from dashboard.store.imported import model_input
from tests import keras_models as km
from tests.app.apptools import figures, open_page

pytestmark = pytest.mark.slow

PAGE = "pages/8_Import.py"
MIME = "application/octet-stream"


@pytest.fixture(scope="module")
def book_bytes(tmp_path_factory) -> tuple[keras.Model, bytes]:
    """A tiny book network (random weights: the page measures whatever it gets), as .keras bytes."""
    keras.utils.set_random_seed(1)
    model = km.book()
    return model, km.save(model, tmp_path_factory.mktemp("page"), "book", "keras").read_bytes()


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="import_file").set_value((name, data, MIME))
    at.run()
    assert not at.exception
    return at


@pytest.fixture
def fresh_bytes(tmp_path) -> tuple[keras.Model, bytes]:
    """A book network no other test uploads (its own seed, so its own file hash): a first import here."""
    keras.utils.set_random_seed(7)
    model = km.book()
    return model, km.save(model, tmp_path, "book", "keras").read_bytes()


def test_upload_imports_measures_and_lists_the_model(fresh_bytes):
    model, data = fresh_bytes
    at = upload(open_page(PAGE), "notebook model.keras", data)
    (success,) = at.success
    assert "notebook model.keras" in success.value and "is ready" in success.value
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Parameters"] == f"{model.count_params():,}"
    assert metrics["Last conv/pool map"] == "3×3×8"
    # The accuracy shown is Keras's own on the embedded test set under the chosen scaling.
    record = next(r for r in ModelCache().runs() if r.is_imported and r.source_file == "notebook model.keras")
    mnist = load_mnist("embedded")
    probs = model.predict(model_input(mnist.x_test, (28, 28, 1), record.imported.scaling), verbose=0)
    assert metrics["Test accuracy"] == f"{(probs.argmax(1) == mnist.y_test).mean():.2%}"
    summary = at.dataframe[0].value
    assert list(summary["Output shape"]) == [str((None, *layer.output.shape[1:])) for layer in model.layers]
    assert list(summary["Receptive field"])[:5] == ["3", "4", "8", "10", "18"]

    again = upload(at, "notebook model.keras", data)  # the same bytes: a cache hit
    assert "was already imported" in again.success[0].value


def test_imported_run_opens_on_feature_maps(book_bytes):
    model, data = book_bytes
    at = upload(open_page(PAGE), "for maps.keras", data)
    at.switch_page("pages/4_Feature_maps.py")
    at.run()
    assert not at.exception and not at.error
    shown = [fig["layout"].get("title", {}).get("text", "") for fig in figures(at)]
    # Every conv and pooling layer of the uploaded model, named and shaped as Keras has them.
    assert [t for t in shown if "(None," in t] == [
        f"{layer.name} ({type(layer).__name__}) · {(None, *layer.output.shape[1:])}"
        for layer in model.layers if type(layer).__name__ in ("Conv2D", "MaxPooling2D")
    ]
    last = model.layers[4]
    assert f"Choose one of the 3×3 positions of `{last.name}`: the red box is the 18×18 window" in \
        " ".join(c.value for c in at.caption)


def test_lambda_file_is_refused_with_its_reason(tmp_path):
    inputs = keras.Input((28, 28, 1))
    outputs = layers.Dense(10)(layers.Flatten()(layers.Lambda(lambda t: t * 2)(inputs)))
    path = tmp_path / "evil.h5"
    keras.Model(inputs, outputs).save(path)
    at = upload(open_page(PAGE), "evil.h5", path.read_bytes())
    (error,) = at.error
    assert "Lambda layer" in error.value and "never runs code" in error.value
    assert not at.success


def test_markup_in_a_file_name_is_shown_as_text(tmp_path):
    data = km.save(km.dense_ch2(), tmp_path, "dense", "keras").read_bytes()
    name = "[click](https://example.com) <b>x</b>.keras"
    at = upload(open_page(PAGE), name, data)
    body = at.success[0].value
    # The name sits in a code span (rendered literally), never as a link or HTML.
    assert body.startswith("` [click](https://example.com) <b>x</b>.keras `")


def test_a_zip_of_something_else_is_refused():
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("homework.txt", "hello")
    at = upload(open_page(PAGE), "homework.keras", buffer.getvalue())
    assert "not a Keras model" in at.error[0].value
    assert np.all([not s for s in at.success])


def test_imported_run_on_inside_and_compare(book_bytes, tmp_path):
    model, data = book_bytes
    dense = km.save(km.dense_ch2(), tmp_path, "dense", "keras").read_bytes()
    at = upload(open_page(PAGE), "inside.keras", data)
    key = next(r.key for r in ModelCache().runs() if r.is_imported and r.source_file in ("inside.keras",
               "notebook model.keras", "for maps.keras"))
    at.switch_page("pages/5_Inside_the_3x3.py")
    at.run(timeout=180)
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Map the head reads"] == "3×3×8" and metrics["Numbers per digit"] == "72"
    titles = [fig["layout"].get("title", {}).get("text", "") for fig in figures(at)]
    assert any(t.startswith("Grad-CAM for digit") for t in titles)
    assert any("one position zeroed" in t for t in titles)

    at.switch_page(PAGE)
    at.run()
    upload(at, "dense.keras", dense)
    at.switch_page("pages/3_Compare.py")
    at.run(timeout=120)
    assert not at.exception
    table = at.dataframe[0].value
    assert key in list(table["key"]) and any("imported dense.keras" in name for name in table["network"])
    # The chapter-2 network has no maps: Feature maps says so instead of failing.
    at.switch_page("pages/4_Feature_maps.py")
    at.session_state["fm_run"] = next(r.key for r in ModelCache().runs() if r.source_file == "dense.keras")
    at.run()
    assert not at.exception and any("No conv layers" in i.value for i in at.info)


def test_a_model_the_app_can_describe_opens_on_architecture(book_bytes):
    from dashboard.network.spec import ConvBlock, NetworkSpec

    _, data = book_bytes
    at = upload(open_page(PAGE), "describable.keras", data)
    assert any("one the app can describe and build itself" in i.value for i in at.info)
    at.button(key="import_open_arch").click()
    at.run(timeout=120)
    assert not at.exception and not at.error
    expected = NetworkSpec(blocks=(ConvBlock(4), ConvBlock(8), ConvBlock(8, pool=False)), dense_units=16)
    assert NetworkSpec.from_json(at.session_state["spec_json"]) == expected
    first = at.dataframe[0].value  # the editor's network: the same layers as the upload
    assert list(first["Output shape"])[:5] == ["(None, 26, 26, 4)", "(None, 13, 13, 4)", "(None, 11, 11, 8)",
                                                "(None, 5, 5, 8)", "(None, 3, 3, 8)"]
    # The imported model itself is summarised further down the page.
    assert at.selectbox(key="arch_imported").value == at.session_state["import_last"]
    assert list(at.dataframe[-1].value["Receptive field"])[:5] == ["3", "4", "8", "10", "18"]


def test_fitting_spec_recognises_batch_norm_and_average_pooling(tmp_path):
    from dashboard.modelfiles.modelfile import inspect_model_file
    from dashboard.network.spec import ConvBlock, NetworkSpec
    from dashboard.store.imported import fitting_spec

    model = keras.Sequential([
        keras.Input((28, 28, 1)), layers.Conv2D(4, 3, activation="relu"), layers.BatchNormalization(),
        layers.AveragePooling2D(2), layers.Conv2D(8, 5, padding="same", activation="relu"),
        layers.GlobalAveragePooling2D(), layers.Dense(10, activation="softmax")])
    found = inspect_model_file(km.save(model, tmp_path, "bn", "keras").read_bytes())
    assert fitting_spec(found) == NetworkSpec(
        blocks=(ConvBlock(4, batch_norm=True, pool_type="avg"), ConvBlock(8, kernel_size=5, padding="same", pool=False)),
        head="global_avg", dense_units=0)
    # A dilated conv is not something the app's description can say.
    assert fitting_spec(inspect_model_file(km.save(km.dilated(), tmp_path, "d", "keras").read_bytes())) is None
