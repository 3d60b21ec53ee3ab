"""In a real browser: Streamlit's menu (`st.navigation`) keeps every page's URL and a link's query string."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from dashboard.ui.nav import APP_NAME, HOME, PAGES
from tests.e2e.test_browser import exception_texts, wait_for_app

pytestmark = pytest.mark.e2e


def url_name(path: str) -> str:
    """Streamlit's URL for a page file: its name without the number, e.g. pages/4_Feature_maps.py → Feature_maps."""
    return re.sub(r"^\d+[_ -]*", "", path.removeprefix("pages/").removesuffix(".py"))


def test_every_page_keeps_its_url_and_the_menu_names_home(server, page):
    app_host = urlsplit(server).hostname
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    for info in PAGES:
        page.goto(f"{server}/{url_name(info.path)}")
        wait_for_app(page)
        assert page.title() == f"{info.title} · {APP_NAME}", f"/{url_name(info.path)} opened another page"
        assert exception_texts(page) == []
    page.goto(server)
    wait_for_app(page)
    assert page.title() == APP_NAME
    nav = page.locator('[data-testid="stSidebarNav"]')
    names = nav.locator('[data-testid="stSidebarNavLink"]').all_inner_texts()
    assert [name.strip() for name in names][:2] == [HOME.title, PAGES[0].title]
    # Menu icons come from the bundled font, the tab icon is a data URL: nothing from Google's servers.
    assert [url for url in requested if urlsplit(url).scheme in ("http", "https")
            and urlsplit(url).hostname != app_host] == []


def test_a_shared_link_keeps_its_query_string_and_the_menu_leads_on(server, page):
    from playwright.sync_api import expect

    page.goto(f"{server}/Architecture?preset=tiny")
    wait_for_app(page)
    assert page.title() == f"Architecture · {APP_NAME}"
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("conv8-pool · conv16-pool", timeout=30_000)  # the linked network, not the book's
    assert "preset=tiny" in page.url
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Compare").click()
    expect(page).to_have_url(re.compile(r"/Compare(\?|$)"), timeout=30_000)
    wait_for_app(page)
    assert page.title() == f"Compare · {APP_NAME}"
    assert exception_texts(page) == []
