"""Every page's link opens the same view: change something on a page, open its URL in a fresh
session, and compare what the two show (title, widget values, metrics, headings)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.apptools import open_page
from tests.app.markup import unescaped

WIDGETS = ("selectbox", "slider", "select_slider", "number_input", "radio", "checkbox", "text_input")


def view(at: AppTest) -> dict:
    """What a page shows that a link must reproduce: its title, keyed widgets' values, metrics, headings."""
    assert not at.exception, [e.value for e in at.exception]
    widgets = {}
    for kind in WIDGETS:
        for widget in at.get(kind):
            if widget.key and not widget.key.startswith("$$"):
                widgets[widget.key] = widget.value
    return {
        "title": [t.value for t in at.title],
        "widgets": widgets,
        "metrics": [(m.label, m.value) for m in at.metric],
        "headings": [h.value for h in (*at.header, *at.subheader)],
        "markdown": [m.value for m in at.markdown if m.value.startswith(("Network:", "Settings:"))],
    }


def link_of(at: AppTest) -> dict[str, str]:
    return {name: at.query_params[name] for name in at.query_params}


def train_with_own_network(at: AppTest) -> AppTest:
    """The reported case: a 16-filter network made on Architecture, then Train with other settings."""
    at.switch_page("pages/1_Architecture.py").run()
    at.select_slider(key="arch_b0_filters").set_value(16).run()
    at.switch_page("pages/2_Train.py").run()
    at.selectbox(key="train_preset").set_value("book").run()
    at.slider(key="train_epochs").set_value(3)
    at.select_slider(key="train_lr").set_value(0.004)
    at.radio(key="train_optimizer").set_value("adam")
    at.selectbox(key="train_schedule").set_value("one_cycle")
    at.checkbox(key="train_all").uncheck()
    at.slider(key="train_size").set_value(5000)
    return at.number_input(key="train_seed").set_value(7).run()


CHANGES: dict[str, tuple[str | None, Callable[[AppTest], AppTest]]] = {
    "home": (None, lambda at: at),
    "architecture": ("pages/1_Architecture.py", lambda at: at.slider(key="arch_n_blocks").set_value(2).run()),
    "train": ("pages/2_Train.py", train_with_own_network),
    "feature-maps": ("pages/4_Feature_maps.py", lambda at: at.number_input(key="fm_index").set_value(7).run()),
    "exercises": ("pages/7_Exercises.py", lambda at: at.sidebar.button(key="ex_goto_2").click().run()),
}
SLOW = {  # each opens a trained run (1-3 s)
    "compare": ("pages/3_Compare.py", lambda at: at.selectbox(key="compare_run")
                .set_value(at.selectbox(key="compare_run").options[1]).run()),
    "inside": ("pages/5_Inside_the_3x3.py", lambda at: at.number_input(key="inside_index").set_value(11).run()),
    "channels": ("pages/6_Channels.py", lambda at: at.slider(key="atlas_channel").set_value(5).run()),
}


@pytest.mark.parametrize("name", [*CHANGES, *(pytest.param(name, marks=pytest.mark.slow) for name in SLOW)])
def test_a_pages_link_opens_the_same_view_in_a_fresh_session(name):
    page, change = {**CHANGES, **SLOW}[name]
    at = change(open_page(page, timeout=180))
    shown, link = view(at), link_of(at)

    again = open_page(page, link, timeout=180)
    assert not again.warning, [w.value for w in again.warning]
    assert view(again) == shown
    assert link_of(again) == link  # the reopened page keeps the same link


def test_trains_link_carries_the_network_settings_and_data():
    at = train_with_own_network(open_page("pages/2_Train.py"))
    link = link_of(at)
    assert '"filters":16' in link["spec"] and "preset" not in link
    assert link["train"] == "book" and link["data"] == at.radio(key="train_data").value
    assert set(link["settings"].split("~")) == {"3ep", "lr0.004", "adam", "one_cycle", "n5000", "seed7"}
    again = open_page("pages/2_Train.py", link)
    assert again.markdown[0].value == at.markdown[0].value and at.markdown[0].value.startswith("Network: **custom**")
    assert again.slider(key="train_epochs").value == 3 and again.number_input(key="train_seed").value == 7
    assert again.checkbox(key="train_all").value is False and again.slider(key="train_size").value == 5000


def test_a_bad_settings_part_is_quoted_and_the_rest_is_used():
    at = open_page("pages/2_Train.py", {"train": "book", "settings": "3ep~[x](https://example.org)~b999~seed5",
                                        "data": "<b>x</b>"})
    assert not at.exception
    warnings = [unescaped(w.value).replace("\u2060", "") for w in at.warning]  # as a reader sees them
    assert "Ignored training settings '[x](https://example.org)', 'b999' in the link; the book preset's values are " \
           "used instead." in warnings, warnings
    assert "Ignored data='<b>x</b>' in the link." in warnings, warnings
    assert at.slider(key="train_epochs").value == 3 and at.number_input(key="train_seed").value == 5
    assert at.select_slider(key="train_batch").value == 64  # the book preset's
    assert at.query_params["settings"] == "3ep~seed5"  # the page's own link is the canonical one
