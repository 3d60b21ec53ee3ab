"""The home page: the question, the book summary with conv2d_2 marked, links, data source."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.app.apptools import markdown_table, open_page

ROOT = Path(__file__).resolve().parents[2]


def summary(at) -> list[dict[str, str]]:
    """The rows of the home page's summary table (the Markdown element that holds it)."""
    return markdown_table(next(md.value for md in at.markdown if md.value.startswith("| Layer (type)")))


def test_home_page_shows_the_book_summary_and_the_data_source():
    at = open_page(None)
    assert not at.exception
    assert "(None, 3, 3, 64)" in at.markdown[0].value
    assert not at.dataframe  # a plain Markdown table: a new browser needs none of the data grid's scripts
    table = summary(at)
    marked = [row for row in table if row.get("marked")]
    assert marked == [{"Layer (type)": "conv2d_2 (Conv2D)", "Output shape": "(None, 3, 3, 64)", "Param #": "36,928",
                       "Receptive field": "18", "Jump": "4", "marked": "yes"}]
    assert sum(int(row["Param #"].replace(",", "")) for row in table) == 93_322
    assert any("18×18 window" in md.value and "576 numbers" in md.value for md in at.markdown)
    assert any("embedded subset (12,000 train + 2,000 test images)" in c.value for c in at.caption)
    links = at.get("page_link")
    pages = sorted(p.name for p in (ROOT / "pages").glob("*.py"))
    assert len(links) == 2 * len(pages) + 1  # sidebar: home + pages; body: pages


@pytest.mark.slow  # a fresh process, ~3 s
def test_home_page_does_not_import_tensorflow():
    """The home page loads fast: its imports must not pull in TensorFlow."""
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from streamlit.testing.v1 import AppTest\n"
        "at = AppTest.from_file(%r, default_timeout=60); at.run()\n"
        "assert not at.exception, at.exception\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    ) % (str(ROOT), str(ROOT / "streamlit_app.py"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["False", "False"]


def test_the_menu_lists_every_page_with_its_url_and_a_material_icon():
    """Every file of pages/ is in the menu; Streamlit serves it at its name without the number."""
    from streamlit.source_util import page_icon_and_name

    from dashboard.ui.page_setup import PAGES

    files = [path for path, *_ in PAGES[1:]]
    assert sorted(files) == sorted(f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py"))
    urls = [page_icon_and_name(ROOT / path)[1] for path in files]
    assert urls == ["Architecture", "Train", "Compare", "Feature_maps", "Inside_the_3x3", "Channels", "Exercises", "Import"]
    assert all(icon.startswith(":material/") and icon.endswith(":") for _, _, icon, _ in PAGES)


def test_home_texts_agree_with_the_book_numbers():
    """The short answer's numbers, the 26 of the dense layers and the word "jump" are explained."""
    from dashboard.network.spec import BOOK, geometry
    from dashboard.views import network_text

    at = open_page(None)
    conv = next(g for g in geometry(BOOK) if g.name == "conv2d_2")
    answer = next(md.value for md in at.markdown if md.value.startswith("**The short answer.**"))
    assert f"Each of its {conv.size * conv.size} positions" in answer
    assert f"**{conv.receptive_field}×{conv.receptive_field} window**" in answer
    assert f"**{conv.channels} channels**" in answer
    assert f"{conv.channels} × {conv.size * conv.size} = **{network_text.head_inputs(BOOK)} numbers**" in answer
    assert next(row for row in summary(at) if row["Layer (type)"] == "dense (Dense)")["Receptive field"] == "26"
    note = next(c.value for c in at.caption if "Why 26, not 28," in c.value)
    assert "rows 26–27 of the digit" in note
    assert any("*jump* is how many pixels apart" in c.value for c in at.caption)
    rf = next(element for element in at.get("plotly_chart") if element.key == "home_rf")
    legend = json.loads(rf.proto.spec)["layout"]["legend"]
    assert legend["orientation"] == "h" and legend["y"] <= -0.15  # below the x-axis numbers, not on them
    assert json.loads(rf.proto.config)["displayModeBar"] is False  # no toolbar over the title
