"""The Exercises page: answers are checked, progress is counted, the step is in the link."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.jobs.train_now import train_now
from dashboard.mnist.data import load_mnist
from dashboard.network.spec import PRESETS, ConvBlock, NetworkSpec
from dashboard.store.cache import ModelCache
from dashboard.training.train_settings import TrainSettings
from dashboard.workshop import exercises as ex
from tests.app.apptools import ROOT
from tests.app.markup import unescaped

PAGE = "pages/7_Exercises.py"
N = len(ex.exercises())


def run_page(query: dict[str, str] | None = None, session: dict | None = None) -> AppTest:
    """Open the page (through the entrypoint, as `apptools.open_page`) with a link and session state."""
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.switch_page(PAGE)
    for name, value in (session or {}).items():
        at.session_state[name] = value
    for name, value in (query or {}).items():
        at.query_params[name] = value
    at.run()
    assert not at.exception
    return at


def check(at: AppTest) -> AppTest:
    at.button(key="ex_check").click()
    at.run()
    assert not at.exception
    return at


def solved_text(at: AppTest) -> str:
    return at.sidebar.get("progress")[0].proto.text


def test_opens_at_the_first_exercise_and_checks_a_right_answer():
    at = run_page()
    assert at.subheader[0].value.startswith("1. ") and at.query_params["step"] == "1"
    assert solved_text(at) == f"0 of {N} solved"
    at.text_input(key="ex_answer_conv1_shape").input("(None, 26, 26, 32)")
    check(at)
    assert [unescaped(s.value) for s in at.success] == ["Right: Keras reports (None, 26, 26, 32) for conv2d."]
    assert solved_text(at) == f"1 of {N} solved"
    assert at.sidebar.button(key="ex_goto_0").proto.icon == ":material/check_circle:"
    assert at.sidebar.button(key="ex_goto_1").proto.icon == ":material/radio_button_unchecked:"


def test_the_answer_box_shows_a_format_not_an_answer():
    at = run_page()
    assert at.text_input(key="ex_answer_conv1_shape").placeholder == "(None, h, w, c)"


def test_wrong_shapes_get_feedback_about_conv2d_not_pooling():
    at = run_page()
    at.text_input(key="ex_answer_conv1_shape").input("(None, 28, 28, 32)")
    check(at)
    shown = unescaped(at.error[0].value)
    assert "'same' padding" in shown and "pooling" not in shown
    at.text_input(key="ex_answer_conv1_shape").input("(None, 13, 13, 32)")
    check(at)
    assert "output of max_pooling2d (MaxPooling2D), the layer after conv2d" in unescaped(at.error[0].value)


def test_no_emoji_on_the_page():
    at = run_page()
    at.text_input(key="ex_answer_conv1_shape").input("(None, 26, 26, 32)")
    check(at)
    icons = [el.proto.icon for el in [*at.success, *at.error, *at.info, *at.warning]]
    icons += [b.proto.icon for b in at.button] + [b.proto.icon for b in at.sidebar.button]
    assert icons and all(not icon or icon.startswith(":material/") for icon in icons), icons
    words = [at.title[0].value, *(b.label for b in at.sidebar.button)]
    assert all(ord(ch) < 0x2190 or ch in "×→−" for word in words for ch in word), words


def test_a_wrong_answer_gets_feedback_and_is_not_counted():
    at = run_page({"step": "2"})
    at.text_input(key="ex_answer_conv1_params").input("288")
    check(at)
    assert at.error and "too low" in at.error[0].value
    assert solved_text(at) == f"0 of {N} solved"
    assert at.session_state["ex_progress"]["answers"]["conv1_params"]["tries"] == 1


def test_revealing_shows_the_keras_answer_but_does_not_count_as_solved():
    at = run_page({"step": "6"})
    at.button(key="ex_reveal").click()
    at.run()
    assert any("The answer: 93,322" == unescaped(info.value) for info in at.info)
    at.text_input(key="ex_answer_book_total").input("93322")
    check(at)
    assert at.success and solved_text(at) == f"0 of {N} solved"
    assert at.sidebar.button(key="ex_goto_5").proto.icon == ":material/visibility:"


def test_the_step_is_in_the_link_and_a_copied_link_reopens_it():
    at = run_page({"step": "4"})
    assert at.subheader[0].value.startswith("4. ")
    at.button(key="ex_next").click()
    at.run()
    assert at.subheader[0].value.startswith("5. ") and at.query_params["step"] == "5"
    link = {name: at.query_params[name] for name in at.query_params}
    again = run_page(link)
    assert again.subheader[0].value == at.subheader[0].value and not again.warning
    again.button(key="ex_goto_0").click()
    again.run()
    assert again.subheader[0].value.startswith("1. ") and again.query_params["step"] == "1"
    assert again.button(key="ex_prev").disabled


@pytest.mark.parametrize("step", ["0", str(N + 1), "abc", "1; DROP TABLE", "9" * 30])
def test_a_hostile_step_falls_back_to_the_first_with_a_warning(step):
    at = run_page({"step": step})
    assert at.warning and at.subheader[0].value.startswith("1. ")


def test_choice_exercise():
    at = run_page({"step": str(1 + [e.id for e in ex.exercises()].index("one_by_one_why"))})
    at.radio(key="ex_answer_one_by_one_why").set_value(0)
    check(at)
    assert at.error
    at.radio(key="ex_answer_one_by_one_why").set_value(1)
    check(at)
    assert at.success and "whole input" in at.success[0].value


def test_network_exercise_uses_the_current_network():
    step = str(1 + [e.id for e in ex.exercises()].index("one_by_one"))
    at = run_page({"step": step}, session={"spec_json": PRESETS["one_by_one"].to_json()})
    at.button(key="ex_use_current").click()
    at.run()
    assert json.loads(at.text_area(key="ex_answer_one_by_one").value) == PRESETS["one_by_one"].to_dict()
    check(at)
    assert at.success and "1×1×64" in at.success[0].value
    at.text_area(key="ex_answer_one_by_one").input('{"blocks": "rm -rf /"}')
    check(at)
    assert at.error and "cannot be built" in at.error[0].value


@pytest.mark.slow  # trains
def test_budget_exercise_reads_the_cached_run():
    quick = TrainSettings(epochs=1, batch_size=64, train_size=500)
    small = NetworkSpec(blocks=(ConvBlock(8), ConvBlock(16), ConvBlock(32, pool=False)), dense_units=0)
    record, _ = train_now(small, quick, load_mnist("auto"), ModelCache())
    at = run_page({"step": str(N)})  # the last exercise
    box = at.selectbox(key="ex_answer_budget")
    assert any(record.key[:6] in option and "8,778 params" in option for option in box.options)
    box.set_value(record.key)
    check(at)
    # 500 images and one epoch: small enough, not accurate enough.
    assert at.error and "under the target" in at.error[0].value and "over the budget" not in at.error[0].value


def test_progress_downloads_as_a_file_that_reads_back_as_the_same_progress(monkeypatch):
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    files: dict[str, bytes] = {}  # the download button's bytes, as Streamlit's media storage receives them
    real = MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):
        if filename == "convnet-exercises.json":
            files[filename] = bytes(path_or_data)
        return real(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    at = run_page()
    at.text_input(key="ex_answer_conv1_shape").input("(None, 26, 26, 32)")
    check(at)
    assert at.sidebar.get("download_button")[0].proto.label == "Download my progress"
    progress, warnings = ex.progress_from_json(files["convnet-exercises.json"], ex.exercises())
    assert warnings == [] and progress["answers"]["conv1_shape"]["ok"] is True
    assert progress["answers"]["conv1_shape"]["answer"] == "(None, 26, 26, 32)"
    assert progress == at.session_state["ex_progress"] | {"step": progress["step"]}


def step_of(exercise_id: str) -> str:
    return str(1 + [e.id for e in ex.exercises()].index(exercise_id))


@pytest.mark.parametrize("answer, ok, shown", [
    ("18x18", True, "Right: 18 pixels"), ("18 × 18", True, "Right: 18 pixels"),
    ("3x3", False, "conv2d_2's window on its own input"), ("18x20", False, "The window is square"),
])
def test_the_receptive_field_box_reads_a_side_written_twice(answer, ok, shown):
    at = run_page({"step": step_of("last_rf")})
    at.text_input(key="ex_answer_last_rf").input(answer)
    check(at)
    assert (bool(at.success), bool(at.error)) == (ok, not ok)
    assert shown in unescaped((at.success or at.error)[0].value)


@pytest.mark.parametrize("exercise_id, answer", [("conv1_shape", "(None,26,26,32)"), ("conv1_shape", "26x26x32"),
                                                 ("dense_params", "36 928"), ("book_total", "93 322")])
def test_the_answer_boxes_read_what_a_learner_types(exercise_id, answer):
    at = run_page({"step": step_of(exercise_id)})
    at.text_input(key=f"ex_answer_{exercise_id}").input(answer)
    check(at)
    assert at.success and not at.error


def test_the_network_to_build_is_not_shown_before_the_learner_builds_one():
    at = run_page({"step": step_of("one_by_one")})
    solution = PRESETS["one_by_one"].describe()
    assert not any(solution in c.value for c in at.caption)
    at.text_area(key="ex_answer_one_by_one").input(PRESETS["book"].to_json())
    check(at)
    assert at.error and any(solution in c.value for c in at.caption)
