"""Hostile links and cache records on every page: no traceback, and nothing from outside renders
as a link, an image or HTML (issue 10, defects 1 and 2)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.store.cache import SHIPPED_ROOT
from tests.app.apptools import open_page
from tests.app.markup import rendered_markup, unescaped

HOME = None
ARCHITECTURE = "pages/1_Architecture.py"
TRAIN = "pages/2_Train.py"
COMPARE = "pages/3_Compare.py"
FEATURE_MAPS = "pages/4_Feature_maps.py"
INSIDE = "pages/5_Inside_the_3x3.py"
EXERCISES = "pages/7_Exercises.py"
IMPORT = "pages/8_Import.py"
CHANNELS = "pages/6_Channels.py"
PAGES = [HOME, ARCHITECTURE, TRAIN, COMPARE, FEATURE_MAPS, INSIDE, EXERCISES, IMPORT, CHANNELS]

LINK = "[Login here](https://example.org/x)"
IMAGE = "![x](https://example.org/a.png)"
HOSTILE = [
    LINK,
    IMAGE,
    "<a href='https://example.org/x'>Login</a>",
    "<img src=https://example.org/a.png>",
    "https://example.org/x",
    "www.example.org",
    "[x]: https://example.org/ref\n\n[x]",
    "` " + LINK + " `",
    "``" + IMAGE,
    "\\" + LINK,
    ":red[" + LINK + "]",
    "$\\href{https://example.org}{x}$",
    "\u202e" + LINK,
]
# Every name a page reads from the URL.
NAMES = ["preset", "spec", "compare", "compare_spec", "run", "run2", "step", "digit", "input", "proj", "cam",
         "train", "settings", "data", "row", "col", "layer", "channel"]


def spec_with(**fields) -> str:
    return json.dumps({"blocks": [{"filters": 32}], **fields})


def assert_clean(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert rendered_markup(at) == []


def shown(elements) -> list[str]:
    """What a reader sees in these alerts."""
    return [unescaped(e.value) for e in elements]


# --- the reported cases, one by one ------------------------------------------------------------


@pytest.mark.parametrize("payload", [LINK, IMAGE], ids=["link", "image"])
@pytest.mark.parametrize("page", [ARCHITECTURE, TRAIN])
def test_a_markup_preset_is_quoted_as_text(page, payload):
    at = open_page(page, {"preset": payload})
    assert_clean(at)
    assert any(f"Unknown preset {payload!r}" in w for w in shown(at.warning))


@pytest.mark.parametrize("page", [ARCHITECTURE, TRAIN])
def test_a_spec_whose_head_is_a_link_is_quoted_as_text(page):
    at = open_page(page, {"spec": spec_with(head=LINK)})
    assert_clean(at)
    assert any(f"not {LINK!r}" in w for w in shown(at.warning))


@pytest.mark.parametrize("page", [FEATURE_MAPS, *(pytest.param(p, marks=pytest.mark.slow)  # 1-3 s each
                                                  for p in (COMPARE, INSIDE, CHANNELS))])
def test_a_markup_run_is_quoted_as_text(page):
    at = open_page(page, {"run": LINK}, timeout=180)
    assert_clean(at)
    assert any("Ignored run='[Login here](https:" in w for w in shown(at.warning)), shown(at.warning)


def test_a_markup_step_is_quoted_as_text():
    at = open_page(EXERCISES, {"step": IMAGE})
    assert_clean(at)
    assert any("Ignored step='![x](https://" in w for w in shown(at.warning)), shown(at.warning)


@pytest.mark.parametrize(
    "query",
    [{"spec": "[" * 2000}, {"spec": "{" * 1500}, {"compare": "custom", "compare_spec": "[" * 2000},
     {"spec": '{"blocks":' * 600}],
    ids=["spec-lists", "spec-objects", "compare-spec", "spec-keys"],
)
def test_deeply_nested_json_in_the_link_warns_and_falls_back(query):
    at = open_page(ARCHITECTURE, query)
    assert_clean(at)
    messages = shown(at.warning) + shown(at.error)
    assert any("nested too deeply" in m or "too long" in m for m in messages), messages
    assert at.slider(key="arch_n_blocks").value == 3  # the book network, shown instead


# --- cache records are outside text too ------------------------------------------------------


@pytest.fixture
def hostile_record():
    """A copy of a shipped run whose record's free-text fields are markup; removed afterwards."""
    source = next(p for p in sorted(SHIPPED_ROOT.iterdir()) if (p / "record.json").is_file())
    key = "hostile0record01"
    target = Path(os.environ["MODEL_CACHE_DIR"]) / key
    shutil.copytree(source, target)
    record = json.loads((target / "record.json").read_text())
    record.update(
        key=key, shipped=False, data_label=LINK + " " + IMAGE, data_source="<a href='https://example.org'>x</a>",
        created=IMAGE, versions={"keras": LINK}, data_fingerprint="not-this-data",
    )
    (target / "record.json").write_text(json.dumps(record))
    try:
        yield key
    finally:
        shutil.rmtree(target, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("page", [TRAIN, COMPARE, FEATURE_MAPS, INSIDE, EXERCISES, IMPORT, CHANNELS])
def test_a_record_with_markup_is_shown_as_text(hostile_record, page):
    at = open_page(page, {"run": hostile_record, "step": "11"}, timeout=240)
    assert_clean(at)


@pytest.mark.parametrize("name", ["settings", "data"])
@pytest.mark.parametrize("payload", [LINK, IMAGE], ids=["link", "image"])
def test_train_quotes_markup_in_its_settings_and_data_as_text(name, payload):
    at = open_page(TRAIN, {name: payload})
    assert_clean(at)
    warnings = shown(at.warning)
    assert any(payload in w and name in w for w in warnings), warnings


# --- anything at all in the URL, on every page ---------------------------------------------------

values = st.one_of(
    st.sampled_from(HOSTILE),
    st.sampled_from(HOSTILE).map(lambda p: spec_with(head=p)),
    st.sampled_from(HOSTILE).map(lambda p: json.dumps({"blocks": [{"filters": 32, "padding": p, p: 1}]})),
    st.integers(1, 3000).flatmap(lambda n: st.sampled_from(["[" * n, "{" * n, '{"a":' * n, "[" * n + "]" * n])),
    st.sampled_from(["9" * 30, "-1", "1e999", "NaN", "0x10", "2147483648", "-9" * 400, " 3 "]),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=3000, max_size=6000),
)
queries = st.dictionaries(
    st.sampled_from(NAMES) | st.text(min_size=1, max_size=8),
    values | st.lists(values, min_size=2, max_size=3),  # a list: the key repeated in the URL
    max_size=4,
)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda p: "home" if p is None else Path(p).stem)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(query=queries)
def test_any_query_string_gives_no_traceback_and_no_outside_markup(page, query):
    at = open_page(page, query, timeout=240)
    assert_clean(at)
