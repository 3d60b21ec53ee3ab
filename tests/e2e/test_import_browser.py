"""In a real browser: upload a .keras file through the file chooser, then see its feature maps."""

from __future__ import annotations

import hashlib

import pytest

from tests import keras_models as km
from tests.e2e.test_browser import exception_texts, wait_for_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_uploading_a_keras_file_then_seeing_its_feature_maps(server, page, tmp_path):
    from playwright.sync_api import expect

    path = km.save(km.book(), tmp_path, "my_notebook_model", "keras")
    key = hashlib.sha256(path.read_bytes()).hexdigest()

    page.goto(f"{server}/Import")
    wait_for_app(page)
    with page.expect_file_chooser() as chooser:
        page.locator('[data-testid="stFileUploaderDropzone"] button').first.click()  # "Upload"
    chooser.value.set_files(str(path))
    expect(page.get_by_text("is ready")).to_be_visible(timeout=180_000)
    wait_for_app(page)
    assert not exception_texts(page)
    expect(page.get_by_text("my_notebook_model.keras").first).to_be_visible()
    expect(page.get_by_text("Total params: 2,258")).to_be_visible()

    # The imported run opens on Feature maps like a trained one (a test digit is picked by default).
    page.goto(f"{server}/Feature_maps?run={key}&input=test&digit=0")
    wait_for_app(page)
    assert not exception_texts(page)
    expect(page.get_by_text("imported my_notebook_model.keras").first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("28×28×1 → 26×26×4 → 13×13×4 → 11×11×8 → 5×5×8 → 3×3×8")).to_be_visible()
    charts = page.locator('[data-testid="stPlotlyChart"]')
    expect(charts.first).to_be_visible(timeout=60_000)
    assert charts.count() >= 5  # one panel per conv/pool layer, and more
    page.screenshot(path="/tmp/convnet-e2e-import.png", full_page=True)
