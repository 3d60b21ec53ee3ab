"""In a real browser: hostile links fetch nothing from another host and leave no outside link in
the page (issue 10, defect 1). Screenshots of each page go to /tmp/convnet-e2e-hostile-*.png."""

from __future__ import annotations

import json
from urllib.parse import quote, urlsplit

import pytest

from tests.e2e.test_browser import exception_texts, wait_for_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LINK = "[Login here](https://example.org/x)"
IMAGE = "![x](https://example.org/a.png)"
TAGS = "<img src=https://example.org/b.png><a href='https://example.org/y'>Login</a> www.example.org"
HOSTILE_LINKS = {
    "architecture-image-preset": "Architecture?preset=" + quote(IMAGE),
    "architecture-link-head": "Architecture?spec=" + quote(json.dumps({"blocks": [{"filters": 32}], "head": LINK})),
    "architecture-deep-compare": "Architecture?compare=custom&compare_spec=" + quote("[" * 2000),
    "train-link-preset": "Train?preset=" + quote(LINK) + "&train=" + quote(IMAGE),
    "compare-image-run": "Compare?run=" + quote(IMAGE),
    "feature-maps-tags": "Feature_maps?run=" + quote(TAGS) + "&digit=" + quote(IMAGE),
    "inside-image-run": "Inside_the_3x3?run=" + quote(IMAGE) + "&cam=" + quote(LINK),
    "exercises-image-step": "Exercises?step=" + quote(IMAGE) + "&step=" + quote(LINK),
}
# Every <a href>, <img src>, SVG <image>, <iframe src> or <source> in the page, resolved.
OUTSIDE_REFERENCES = """() => Array.from(
    document.querySelectorAll('a[href], img[src], image, iframe[src], source[src], link[href], script[src]')
).map(e => e.href?.baseVal ?? e.href ?? e.src ?? e.getAttribute('href') ?? e.getAttribute('xlink:href'))
 .filter(u => typeof u === 'string' && u.length > 0)"""


def _outside(url: str, app_host: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme not in ("data", "blob", "about", "javascript") and parts.hostname not in (app_host, None)


@pytest.mark.parametrize("path", list(HOSTILE_LINKS.values()), ids=list(HOSTILE_LINKS))
def test_a_hostile_link_fetches_nothing_from_another_host(server, page, path):
    app_host = urlsplit(server).hostname
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{server}/{path}")
    wait_for_app(page)
    page.wait_for_timeout(1000)  # let any image or font the page asked for go out

    assert exception_texts(page) == []
    assert [url for url in requested if _outside(url, app_host)] == []
    assert [url for url in page.evaluate(OUTSIDE_REFERENCES) if _outside(url, app_host)] == []
    # The hostile text is on the page as text: the learner sees what the link said.
    body = page.inner_text("body")
    assert "example.org" in body or "nested too deeply" in body
    name = next(key for key, value in HOSTILE_LINKS.items() if value == path)
    page.screenshot(path=f"/tmp/convnet-e2e-hostile-{name}.png", full_page=False)
