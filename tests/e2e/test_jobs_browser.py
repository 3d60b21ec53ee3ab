"""In a real browser: press Train, leave for another page at once, and still get the finished run."""

from __future__ import annotations

import json
import re
import urllib.parse

import pytest

from tests.e2e.test_browser import exception_texts, wait_for_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SPEC = {"blocks": [{"filters": 5}, {"filters": 7}], "dense_units": 0}  # trained by no other test


def test_a_training_goes_on_after_leaving_the_train_page(server, page):
    from playwright.sync_api import expect

    query = urllib.parse.urlencode({"spec": json.dumps(SPEC, separators=(",", ":")), "train": "fast"})
    page.goto(f"{server}/Train?{query}")
    wait_for_app(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    page.locator('[data-testid="stMain"]').get_by_role("button", name="Train", exact=True).first.click()
    page.wait_for_timeout(300)  # the click reaches the server, which submits the job
    sidebar.get_by_role("link", name="Architecture").click()  # leave at once
    expect(page).to_have_url(re.compile(re.escape(f"{server}/Architecture") + r"(\?.*)?$"), timeout=30_000)

    panel = sidebar.locator('[data-testid="stExpander"]').filter(has_text="Training jobs")
    expect(panel).to_be_visible(timeout=60_000)  # the jobs panel follows the job on this page
    expect(panel).to_contain_text("done: test accuracy", timeout=240_000)
    assert not exception_texts(page)

    panel.get_by_role("link", name="Results on Compare").click()
    page.wait_for_url("**/Compare**", timeout=30_000)
    wait_for_app(page)
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("conv5-pool · conv7-pool", timeout=60_000)  # the finished run is listed
    assert not exception_texts(page)
