"""In a real browser: every page keeps its URL and title, a shared link keeps its query string, the
sidebar links lead on, and no page makes the browser fetch anything from another host (the tab
icon and the menu's Material icons are served by the app itself)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from dashboard.ui.page_setup import PAGES
from tests.e2e.test_browser import exception_texts, wait_for_app

pytestmark = pytest.mark.e2e
APP_NAME = "ConvNet Explorer"


def url_name(path: str) -> str:
    """Streamlit's URL for a page file: its name without the number (pages/4_Feature_maps.py → Feature_maps)."""
    return "" if path == "streamlit_app.py" else re.sub(r"^\d+[_ -]*", "", path.removeprefix("pages/").removesuffix(".py"))


def test_every_page_keeps_its_url_and_title_and_fetches_nothing_from_elsewhere(server, page):
    app_host = urlsplit(server).hostname
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    for path, label, _, _ in PAGES:
        page.goto(f"{server}/{url_name(path)}")
        wait_for_app(page)
        expected = APP_NAME if path == "streamlit_app.py" else f"{label} · {APP_NAME}"
        assert page.title() == expected, f"/{url_name(path)} opened another page"
        assert exception_texts(page) == []
        sidebar_links = page.locator('[data-testid="stSidebar"] [data-testid="stPageLink"]')
        sidebar_links.first.wait_for(timeout=30_000)  # a loaded machine may settle before the first run has drawn
        links = sidebar_links.all_inner_texts()
        # A link's text is its icon's name (the icon font draws it), then its label.
        assert [text.split("\n")[-1].strip() for text in links][: len(PAGES)] == [p[1] for p in PAGES]
    outside = [url for url in requested if urlsplit(url).scheme in ("http", "https") and urlsplit(url).hostname != app_host]
    assert outside == []


def test_a_shared_link_keeps_its_query_string_and_the_sidebar_leads_on(server, page):
    from playwright.sync_api import expect

    page.goto(f"{server}/Architecture?preset=tiny")
    wait_for_app(page)
    assert page.title() == f"Architecture · {APP_NAME}"
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("conv8-pool · conv16-pool", timeout=30_000)  # the linked network, not the book's
    assert "preset=tiny" in page.url
    page.locator('[data-testid="stSidebar"] [data-testid="stPageLink"]').filter(has_text="Compare").first.click()
    expect(page).to_have_url(re.compile(r"/Compare(\?|$)"), timeout=30_000)
    wait_for_app(page)
    assert page.title() == f"Compare · {APP_NAME}"
    assert exception_texts(page) == []
