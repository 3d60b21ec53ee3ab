"""Issue 11 panels on existing pages: the shape decoded (home, Architecture), click targets on
Feature maps, and 'How many numbers the classifier needs' on Inside the 3×3."""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from dashboard.network.spec import BOOK, geometry
from dashboard.store.cache import ModelCache
from tests.app.apptools import figures, open_page, plotly_array
from tests.app.markup import unescaped

BOOK_RUN = "5ac6e14cdfcf409e"  # shipped


def decode_figure(at) -> dict:
    found = [f for f in figures(at) if any("output" in a.get("text", "") for a in f["layout"].get("annotations", []))]
    assert len(found) >= 1
    return found[0]


def test_home_decodes_the_last_conv_shape_and_draws_kernel_and_output():
    at = open_page(None)
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "**`(None, 3, 3, 64)`** is the output of `conv2d_2`" in text
    assert "`None`: **batch**" in text and "`3, 3`: **height, width**" in text and "`64`: **channels**" in text
    assert "`Conv2D(64, (3, 3))` sets the **kernel**" in text and "5 − 3 + 1 = 3" in text
    fig = decode_figure(at)
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert titles == ["kernel 3×3 of Conv2D(64, (3, 3))<br>at (1, 1)", "output 3×3 of conv2d_2"]
    # Squares are drawn as outline traces (5 corners and a gap each); the window is a shape.
    squares = {(t["xaxis"], t["fillcolor"] if t.get("fill") == "toself" else "grid"): outline_squares(t)
               for t in fig["data"] if t["type"] == "scatter"}
    left = {kind: found for (axis, kind), found in squares.items() if axis == "x"}
    right = [found for (axis, _), found in squares.items() if axis == "x2"]
    assert len(left["grid"]) == 25 and sum(len(found) for found in right) == 9  # 5×5 input map; 3×3 output
    (kernel,) = [found for kind, found in left.items() if kind != "grid"]
    assert len(kernel) == 9 and {x1 - x0 for x0, x1 in kernel} == {4.0}  # to scale: one tap per 4 input pixels
    assert (min(x0 for x0, _ in kernel), max(x1 for _, x1 in kernel)) == (6.5, 18.5)
    (window,) = fig["layout"]["shapes"]
    assert window["xref"] == "x2" and (window["x0"], window["x1"]) == (3.5, 21.5)  # columns 4–21: 18 pixels at (1, 1)


def outline_squares(trace: dict) -> list[tuple[float, float]]:
    """(left, right) of every square of an outline trace: x runs corner ×5, gap, corner ×5, gap…"""
    xs = plotly_array(trace["x"]).astype(float).reshape(-1, 6)
    return [(float(np.nanmin(row)), float(np.nanmax(row))) for row in xs]


def test_architecture_decodes_the_selected_layer():
    at = open_page("pages/1_Architecture.py")
    assert not at.exception
    box = at.selectbox(key="main_decode_layer")
    assert box.value == "conv2d_2"
    box.set_value("max_pooling2d_1").run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "**`(None, 5, 5, 64)`** is the output of `max_pooling2d_1`" in text and "each pooled on its own" in text
    fig = decode_figure(at)
    assert [a["text"] for a in fig["layout"]["annotations"]] == ["output 5×5 of max_pooling2d_1"]
    at.selectbox(key="main_decode_layer").set_value("flatten").run()
    assert "**`(None, 576)`** is the output of `flatten`" in " ".join(m.value for m in at.markdown)
    assert any("no positions left" in c.value for c in at.caption)


@pytest.mark.slow
def test_feature_maps_window_has_one_click_target_per_position():
    at = open_page("pages/4_Feature_maps.py", {"run": BOOK_RUN, "row": "2", "col": "0"}, timeout=120)
    assert not at.exception
    (fig,) = [f for f in figures(at) if f["layout"].get("title", {}).get("text", "").startswith("(2, 0) sees")]
    (targets,) = [t for t in fig["data"] if t["type"] == "scatter"]
    geo = next(g for g in geometry(BOOK) if g.name == "conv2d_2")
    cells = plotly_array(targets["customdata"]).reshape(-1, 2)
    assert sorted(map(tuple, cells.tolist())) == [(r, c) for r in range(3) for c in range(3)]
    np.testing.assert_allclose(plotly_array(targets["x"]), geo.start + cells[:, 1] * geo.jump)
    np.testing.assert_allclose(plotly_array(targets["y"]), geo.start + cells[:, 0] * geo.jump)


@pytest.mark.slow
def test_inside_shows_accuracy_against_numbers_with_computed_text():
    """The shipped family (fast preset, full MNIST, 3 or more seeds) is the set a learner sees first."""
    records = ModelCache().runs()
    at = open_page("pages/5_Inside_the_3x3.py", {"run": BOOK_RUN}, timeout=300)
    assert not at.exception
    (fig,) = [f for f in figures(at) if f["layout"].get("title", {}).get("text", "").startswith("Test accuracy against the numbers")]
    line = fig["data"][0]
    assert plotly_array(line["x"]).tolist() == [9, 18, 36, 72, 144, 288, 576]
    # Each point is the median of the shipped seeds that trained, computed here without the app's code.
    medians = []
    for filters in (1, 2, 4, 8, 16, 32, 64):
        spec = BOOK.with_block(2, filters=filters)
        seeds = [r.test_accuracy for r in records if r.shipped and r.spec == spec and r.settings is not None
                 and r.settings.epochs == 1 and r.trained]
        medians.append(statistics.median(seeds))
    np.testing.assert_allclose(plotly_array(line["y"]), medians)
    assert fig["layout"]["xaxis"]["type"] == "log"
    assert fig["layout"]["xaxis"]["ticktext"][0] == "9" and "576" in fig["layout"]["xaxis"]["ticktext"]
    crosses = [t for t in fig["data"] if t.get("name") == "training failed (off the scale)"]
    assert len(plotly_array(crosses[0]["x"])) == 5  # four 1-filter seeds and one 2-filter seed died
    bullets = [unescaped(m.value[2:]) for m in at.markdown if m.value.startswith("- ")]
    assert ("With 9 numbers (3×3×1) the network reads 96.22% (median of 2 seeds, 96.16%–96.27%; 4 more did not "
            "train) of the test digits; with 576 (3×3×64), 99.17% (median of 3 seeds, 99.16%–99.21%).") in bullets
    assert any(b.startswith("4 of 6 trainings of the 1-filter network (9 numbers) did not train: every channel")
               for b in bullets)
    assert not any("11.35%" in b for b in bullets)  # chance is never stated as what 9 numbers carry
    assert any("10 networks, 33 trainings (3 to 6 seeds each; 5 did not train)" in unescaped(c.value) for c in at.caption)
