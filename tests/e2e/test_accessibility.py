"""In a real browser: axe-core finds no serious or critical WCAG 2.2 AA violation on any page, in the
light theme or the dark one (the app follows the system's colour scheme, as Chromium reports it)."""

from __future__ import annotations

import pytest

from dashboard.ui.page_setup import PAGES
from tests.e2e.test_browser import wait_for_app
from tests.e2e.test_navigation import url_name

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}}
BACKGROUNDS = {"light": "rgb(255, 255, 255)", "dark": "rgb(23, 22, 20)"}  # Streamlit's, as config.toml leaves them


def serious(violations: list[dict]) -> list[str]:
    """One line per serious or critical finding: rule, element and axe's summary."""
    return [f"{v['id']}: {node['html'][:120]} — {(node.get('failureSummary') or '').splitlines()[-1:]}"
            for v in violations if v.get("impact") in ("serious", "critical") for node in v["nodes"]]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_page_has_a_serious_accessibility_violation(server, browser, scheme):
    axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")
    axe = axe_module.Axe()
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme=scheme)
    tab = context.new_page()
    found = {}
    try:
        for path, label, _, _ in PAGES:
            tab.goto(f"{server}/{url_name(path)}")
            wait_for_app(tab)
            background = tab.evaluate("getComputedStyle(document.querySelector('[data-testid=stApp]')).backgroundColor")
            assert background == BACKGROUNDS[scheme], f"{label} is not in the {scheme} theme ({background})"
            lines = serious(axe.run(tab, options=AXE_OPTIONS).response["violations"])
            if lines:
                found[label] = lines
    finally:
        context.close()
    assert found == {}, f"axe, {scheme} theme: {found}"
