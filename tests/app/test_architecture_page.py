"""The Architecture page: editing the network updates the table, metrics, charts and URL."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.network.spec import PRESETS
from dashboard.network.summaries import total_params
from tests.app.apptools import markdown_table, open_page
from tests.app.markup import unescaped

PAGE = "pages/1_Architecture.py"


def run_page(query: dict[str, str] | None = None) -> AppTest:
    at = open_page(PAGE, query)
    assert not at.exception
    return at


def tables(at: AppTest) -> list[list[dict[str, str]]]:
    """Every summary table on the page (Markdown), parsed: the main network's first."""
    return [markdown_table(md.value) for md in at.markdown if md.value.startswith("| Layer")]


def table(at: AppTest) -> list[dict[str, str]]:
    return tables(at)[0]


def column(rows: list[dict[str, str]], name: str) -> list:
    """A column's cells as numbers where they are numbers ("18,496" → 18496)."""
    return [int(row[name].replace(",", "")) if row[name].replace(",", "").isdigit() else row[name] for row in rows]


def test_default_is_the_book_network_from_keras():
    at = run_page()
    rows = table(at)
    assert column(rows, "Layer (type)")[:5] == [
        "conv2d (Conv2D)", "max_pooling2d (MaxPooling2D)", "conv2d_1 (Conv2D)",
        "max_pooling2d_1 (MaxPooling2D)", "conv2d_2 (Conv2D)",
    ]
    assert rows[4]["Output shape"] == "(None, 3, 3, 64)" and rows[4].get("marked")  # the last conv layer is marked
    assert [row for row in rows if row.get("marked")] == [rows[4]]
    assert sum(column(rows, "Param #")) == 93_322
    assert column(rows, "Receptive field")[:5] == [3, 4, 8, 10, 18]
    assert [m.value for m in at.metric] == ["93,322", "3×3×64", "18×18"]
    assert at.query_params["preset"] == "book"
    assert any("576 numbers" in info.value for info in at.info)


def test_changing_filters_updates_params_shapes_and_the_url():
    at = run_page()
    at.select_slider(key="arch_b0_filters").set_value(16)
    at.run()
    assert not at.exception
    rows = table(at)
    assert rows[0]["Output shape"] == "(None, 26, 26, 16)"
    assert column(rows, "Param #")[0] == 160 and column(rows, "Param #")[2] == 9 * 16 * 64 + 64
    assert at.selectbox(key="arch_preset").value == "(custom)"
    assert '"filters":16' in at.query_params["spec"]
    # Back to 32 filters: the preset is recognised again.
    at.select_slider(key="arch_b0_filters").set_value(32)
    at.run()
    assert at.selectbox(key="arch_preset").value == "book"
    assert at.query_params["preset"] == "book"


def test_charts_carry_the_numbers_of_the_table():
    at = run_page()
    specs = [el for el in at.get("plotly_chart") if el.key != "main_decode_chart"]  # the shape panel has its own test
    assert len(specs) == 3
    import json

    spatial, params, rf = (json.loads(el.proto.spec) for el in specs)
    assert spatial["data"][0]["y"] == [28, 26, 13, 11, 5, 3]
    assert params["data"][0]["y"] == [320, 18_496, 36_928, 36_928, 650]
    outlines = [trace for trace in rf["data"] if trace["type"] == "scatter"]
    assert [trace["name"].split(":")[0] for trace in outlines] == [
        "conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "conv2d_2",
    ]
    last = outlines[-1]  # the centre position of conv2d_2 sees rows/cols 4..21
    assert min(last["x"]) == 3.5 and max(last["x"]) == 21.5


@pytest.mark.parametrize("name", [n if n == "book" else pytest.param(n, marks=pytest.mark.slow)  # ~1 s each
                                  for n in sorted(PRESETS)])
def test_every_preset_loads(name):
    at = run_page()
    at.selectbox(key="arch_preset").set_value(name)
    at.run()
    assert not at.exception
    assert at.query_params["preset"] == name
    assert [e.value for e in at.error] == []
    assert at.title[0].value.endswith("Architecture")
    assert sum(column(table(at), "Param #")) == total_params(PRESETS[name])  # the preset's own table


def test_invalid_network_shows_the_reason_and_keeps_the_last_valid_one():
    at = run_page()
    at.slider(key="arch_n_blocks").set_value(6)
    at.run()
    assert not at.exception
    assert at.error and "block 5" in at.error[0].value
    assert at.query_params["preset"] == "book"  # the URL still holds the last valid network
    assert sum(column(table(at), "Param #")) == 93_322


def test_link_reproduces_a_custom_network():
    spec = PRESETS["tiny"].with_block(1, filters=24, kernel_size=5)
    at = run_page({"spec": spec.to_json()})
    assert table(at)[2]["Output shape"] == "(None, 9, 9, 24)"
    assert at.select_slider(key="arch_b1_filters").value == 24
    assert at.selectbox(key="arch_b1_kernel_size").value == 5
    assert not at.warning


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"spec": "{'blocks':"}, id="broken-json"),
        pytest.param({"spec": '{"blocks": [{"filters": 100000}]}'}, id="out-of-range"),
        pytest.param({"preset": "rm -rf"}, id="unknown-preset"),
        pytest.param({"compare": "../etc"}, id="bad-compare"),
    ],
)
def test_hostile_links_fall_back_with_a_warning(query):
    at = run_page(query)
    warnings = " ".join(unescaped(w.value) for w in at.warning)
    (name,) = query  # the warning names what it ignored, not just any warning
    assert {"spec": "network", "preset": "preset", "compare": "compare"}[name] in warnings.lower(), warnings
    assert sum(column(table(at), "Param #")) == 93_322


def test_comparison_shows_two_networks_side_by_side():
    at = run_page({"compare": "no_pooling"})
    assert at.selectbox(key="arch_compare").value == "no_pooling"
    assert at.dataframe[1].value["Param #"].sum() == 2_038_922  # side by side: the data grid's fixed widths
    # Side by side, the three numbers are one line each (metrics' large numbers were cut off).
    lines = [md.value for md in at.markdown if md.value.endswith("its receptive field **7×7**")
             or md.value.endswith("its receptive field **18×18**")]
    assert lines == ["**93,322** parameters · last conv output **3×3×64** · its receptive field **18×18**",
                     "**2,038,922** parameters · last conv output **22×22×64** · its receptive field **7×7**"]
    at.selectbox(key="arch_compare").set_value("(none)")
    at.run()
    assert [m.value for m in at.metric] == ["93,322", "3×3×64", "18×18"] and "compare" not in at.query_params


@pytest.mark.slow  # ~2.5 s
def test_comparison_with_a_network_written_as_json():
    at = run_page()
    at.selectbox(key="arch_compare").set_value("custom (JSON)")
    at.run()
    assert at.text_area(key="arch_compare_json").value == PRESETS["book"].to_json()  # starts from this network
    at.text_area(key="arch_compare_json").set_value(PRESETS["tiny"].to_json())
    at.run()
    assert not at.exception
    assert at.dataframe[1].value["Param #"].sum() == 14_410
    assert at.query_params["compare"] == "custom"
    # A link with the custom comparison reopens it.
    again = run_page({"compare": "custom", "compare_spec": PRESETS["tiny"].to_json()})
    assert again.dataframe[1].value["Param #"].sum() == 14_410
    # Broken JSON: an error, and only the main network.
    at.text_area(key="arch_compare_json").set_value('{"blocks": [')
    at.run()
    assert not at.exception
    assert "The second network was not used" in at.error[0].value
    # the main network alone, full width: Markdown; the only dataframes left are those of the page without
    # a comparison (an imported model's summary, when the cache holds one)
    assert len(tables(at)) == 1 and len(at.dataframe) == len(run_page().dataframe)


LARGEST = {"blocks": [{"filters": 256, "kernel_size": 7, "padding": "same", "pool": False}] * 6, "dense_units": 512}


@pytest.mark.slow  # ~1.5 s
def test_the_largest_network_is_shown_from_arithmetic_with_its_formulas():
    import json

    at = run_page({"spec": json.dumps(LARGEST)})
    rows = table(at)
    assert sum(column(rows, "Param #")) == 118_836_490
    assert rows[0]["Where the params come from"] == "7×7×1 × 256 + 256 = 12,800"  # the words are in the caption
    assert any("Too big to train here" in c.value for c in at.caption)


# --- issue 13: texts that agree with the numbers, charts that read cleanly ---------------------


def info_text(at: AppTest) -> str:
    return next(info.value for info in at.info if "classifier reads" in info.value)


def test_two_blocks_the_text_names_the_pooled_map_the_classifier_reads():
    at = run_page()
    at.slider(key="arch_n_blocks").set_value(2).run()
    assert not at.exception
    rows = table(at)
    by_name = {row["Layer (type)"]: row for row in rows}
    assert by_name["max_pooling2d_1 (MaxPooling2D)"]["Output shape"] == "(None, 5, 5, 64)"
    assert by_name["flatten (Flatten)"]["Output shape"] == "(None, 1600)"
    assert [m.value for m in at.metric] == [f"{sum(column(rows, 'Param #')):,}", "11×11×64", "8×8"]
    text = info_text(at)
    assert "Each of the 11×11 positions of `conv2d_1`" in text and "2 pixels apart" in text
    assert "the 5×5×64 output of `max_pooling2d_1`" in text
    assert "64 channels × 25 positions = **1,600 numbers**" in text


def test_four_blocks_one_position_no_neighbours():
    at = run_page()
    at.slider(key="arch_n_blocks").set_value(4).run()
    assert not at.exception
    rows = table(at)
    assert rows[5]["Output shape"] == "(None, 1, 1, 64)"
    assert [m.value for m in at.metric][1:] == ["1×1×64", "26×26"]
    text = info_text(at)
    assert "The single position of `conv2d_3` sees a 26×26 window" in text
    assert "apart" not in text and "1 positions" not in text
    assert "64 channels × 1 position = **64 numbers**" in text
    at.selectbox(key="main_decode_layer").set_value("conv2d_3").run()
    decoded = " ".join(md.value for md in at.markdown)
    assert "1×1 = 1 position; it looks at a 26×26 window" in decoded and "neighbours" not in decoded
    assert "The single output position sees a 26×26 window" in decoded


def test_jump_and_the_26_of_dense_layers_are_explained():
    at = run_page()
    dense = next(row for row in table(at) if row["Layer (type)"] == "dense (Dense)")
    assert dense["Receptive field"] == "26" and dense["Jump"] == "—"
    note = next(c.value for c in at.caption if c.value.startswith("Why 26, not 28,"))
    assert "`max_pooling2d_1` turns the 11×11 map of `conv2d_1` into 5×5" in note and "rows 26–27" in note
    explained = next(c.value for c in at.caption if c.value.startswith("Receptive field:"))
    assert "Jump: how many pixels" in explained and "Where the params come from:" in explained


def test_side_by_side_parameter_charts_share_one_scale_and_tables_keep_their_columns():
    at = run_page({"compare": "no_pooling"})
    params = [json.loads(el.proto.spec) for el in at.get("plotly_chart") if el.key.endswith("_params")]
    assert len(params) == 2
    tops = [chart["layout"]["yaxis"]["range"][1] for chart in params]
    assert tops[0] == tops[1] == 1_982_528 * 1.25  # no_pooling's dense layer, on both charts
    for frame in at.dataframe[:2]:
        assert frame.value.columns.tolist() == ["Layer", "Output shape", "Param #", "Receptive field", "Jump"]
    assert len([c for c in at.caption if c.value.startswith("Receptive field:")]) == 1  # explained once


def test_charts_leave_axis_numbers_and_titles_clear():
    at = run_page()
    for element in at.get("plotly_chart"):
        if element.key in ("main_spatial", "main_params", "main_rf"):
            assert json.loads(element.proto.config)["displayModeBar"] is False
    rf = next(json.loads(el.proto.spec) for el in at.get("plotly_chart") if el.key == "main_rf")
    legend = rf["layout"]["legend"]
    assert legend["orientation"] == "h" and legend["y"] <= -0.15  # below the x-axis numbers, not on them

