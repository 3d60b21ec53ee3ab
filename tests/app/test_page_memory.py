"""Every page keeps its widgets' values across page changes within a session (issue 10, defect 5).

Streamlit drops the state of widgets a run does not draw unless the widget asks it to keep it
(`persist_state="session"`). Each test sets values, goes to another page through
`switch_page` (as the sidebar links do) and back, and checks the values survived.
"""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.store.cache import ModelCache
from tests.app.apptools import open_page, wait_for_jobs

TRAIN = "pages/2_Train.py"
COMPARE = "pages/3_Compare.py"
# Its own network, so that no other test has trained it.
SPEC = {"blocks": [{"filters": 2}, {"filters": 3}], "dense_units": 0}

pytestmark = pytest.mark.slow


def away_and_back(at: AppTest, page: str, via: str = COMPARE) -> AppTest:
    """Go to `via`, then back to `page`, as the sidebar links do (they drop the query string)."""
    at.query_params.clear()
    at.switch_page(via).run()
    assert not at.exception, [e.value for e in at.exception]
    at.query_params.clear()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_train_keeps_its_settings_and_finds_the_run_just_trained():
    at = open_page(TRAIN, {"spec": json.dumps(SPEC)}, timeout=180)
    at.radio(key="train_data").set_value("embedded").run()
    at.selectbox(key="train_preset").set_value("fast").run()
    at.slider(key="train_epochs").set_value(1)
    at.select_slider(key="train_batch").set_value(64)
    at.checkbox(key="train_all").uncheck()
    at.slider(key="train_size").set_value(1000)
    at.number_input(key="train_seed").set_value(5)
    at.button(key="train_button").click().run()
    assert not at.exception
    wait_for_jobs()
    at.run()
    assert any(s.value.startswith("Trained") for s in at.success)

    away_and_back(at, TRAIN)
    assert at.radio(key="train_data").value == "embedded"
    assert at.selectbox(key="train_preset").value == "fast"
    assert at.slider(key="train_epochs").value == 1
    assert at.select_slider(key="train_batch").value == 64
    assert at.checkbox(key="train_all").value is False
    assert at.slider(key="train_size").value == 1000
    assert at.number_input(key="train_seed").value == 5
    assert not any("not in the cache yet" in i.value for i in at.info)
    assert any(s.value.startswith("Trained") for s in at.success)  # the run just trained, shown


def test_architecture_keeps_the_network_and_the_comparison():
    page = "pages/1_Architecture.py"
    at = open_page(page)
    at.slider(key="arch_n_blocks").set_value(2).run()
    at.selectbox(key="arch_compare").set_value("tiny").run()
    away_and_back(at, page, via=TRAIN)
    assert at.slider(key="arch_n_blocks").value == 2
    assert at.selectbox(key="arch_compare").value == "tiny"
    assert at.query_params["compare"] == "tiny"


def test_compare_keeps_the_chosen_runs_and_settings():
    runs = ModelCache().runs()
    assert len(runs) >= 2  # the shipped runs
    at = open_page(COMPARE, timeout=180)
    at.multiselect(key="compare_runs").set_value([runs[1].key]).run()
    at.selectbox(key="compare_run").set_value(runs[1].key).run()
    at.slider(key="compare_mistakes").set_value(70).run()
    assert not at.exception
    away_and_back(at, COMPARE, via=TRAIN)
    assert at.multiselect(key="compare_runs").value == [runs[1].key]
    assert at.selectbox(key="compare_run").value == runs[1].key
    assert at.slider(key="compare_mistakes").value == 70
    assert not at.warning  # no "default value but also set via Session State" warning


def test_feature_maps_keep_the_run_the_digit_and_the_position():
    page = "pages/4_Feature_maps.py"
    runs = ModelCache().runs()
    at = open_page(page, timeout=180)
    at.selectbox(key="fm_run").set_value(runs[1].key).run()
    at.number_input(key="fm_index").set_value(123).run()
    at.toggle(key="fm_compare").set_value(True).run()
    assert not at.exception
    second = at.selectbox(key="fm_run2").value
    away_and_back(at, page)
    assert at.selectbox(key="fm_run").value == runs[1].key
    assert at.number_input(key="fm_index").value == 123
    assert at.toggle(key="fm_compare").value is True
    assert at.selectbox(key="fm_run2").value == second


def test_inside_keeps_its_choices():
    page = "pages/5_Inside_the_3x3.py"
    at = open_page(page, timeout=300)
    at.toggle(key="inside_same").set_value(False).run()
    at.selectbox(key="inside_cam").set_value(7).run()
    at.number_input(key="inside_index").set_value(42).run()
    assert not at.exception
    away_and_back(at, page)
    assert at.toggle(key="inside_same").value is False
    assert at.selectbox(key="inside_cam").value == 7
    assert at.number_input(key="inside_index").value == 42
    assert not at.warning


def test_exercises_keep_answers_typed_but_not_checked():
    page = "pages/7_Exercises.py"
    at = open_page(page)
    at.text_input(key="ex_answer_conv1_shape").input("(None, 13, 13, 32)").run()
    at.button(key="ex_next").click().run()
    at.text_input(key="ex_answer_conv1_params").input("288").run()
    away_and_back(at, page)
    assert at.text_input(key="ex_answer_conv1_params").value == "288"
    at.button(key="ex_prev").click().run()
    assert at.text_input(key="ex_answer_conv1_shape").value == "(None, 13, 13, 32)"
