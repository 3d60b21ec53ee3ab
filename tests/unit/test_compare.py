"""The Compare page's data: the runs table, the default selection, runs grouped by their data."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from dashboard.charts.training import (
    GAP,
    LABEL_BAND,
    TILE,
    accuracy_scatter,
    confusion_figure,
    group_scatter,
    mistakes_figure,
)
from dashboard.network.spec import BOOK, PRESETS
from dashboard.store.seeds import group_runs
from dashboard.training.train_settings import TRAIN_PRESETS
from dashboard.views import compare_table
from tests.unit.test_run import trained

FULL = {"data_source": "file", "data_label": "file (60,000 train + 10,000 test images)", "data_fingerprint": "full"}


def runs():
    return [
        trained("shipped1", BOOK, TRAIN_PRESETS["book"], shipped=True, test_accuracy=0.9897, **FULL),
        trained("mine2", BOOK, TRAIN_PRESETS["fast"], test_accuracy=0.9755, created="2026-12-02T10:00:00+00:00"),
        trained("other1", PRESETS["tiny"], TRAIN_PRESETS["fast"], created="2026-12-01T10:00:00+00:00", **FULL),
    ]


def test_the_table_names_the_data_and_puts_accuracy_and_time_before_the_identifiers():
    table = compare_table.runs_table(runs())
    assert list(table.columns) == list(compare_table.TABLE_COLUMNS)
    assert list(table.columns).index("train time (s)") < list(table.columns).index("key")
    assert table["data"].tolist() == ["full MNIST", "embedded subset (12,000 images)", "full MNIST"]
    assert table["test accuracy"].tolist() == [98.97, 97.55, 95.0]  # percent, as everywhere in the app
    assert table["seed"].tolist() == [0, 0, 0] and table["trained"].tolist() == [True, True, True]
    assert compare_table.runs_table([]).columns.tolist() == list(compare_table.TABLE_COLUMNS)


def seeded(accs, spec=BOOK, failed=()):
    """Runs of one network and training on full MNIST, one per seed (seeds in `failed` did not train)."""
    return [trained(f"{spec.describe()[:6]}{seed}", spec, replace(TRAIN_PRESETS["fast"], seed=seed),
                    test_accuracy=acc, trained=seed not in failed, **FULL) for seed, acc in enumerate(accs)]


def test_the_groups_table_puts_each_networks_seeds_together_with_median_range_and_failures():
    runs = seeded((0.9921, 0.9927, 0.9910)) + seeded((0.1135, 0.952, 0.957), spec=BOOK.with_block(2, filters=1), failed={0})
    table = compare_table.groups_table(group_runs(runs))
    assert table.columns.tolist() == list(compare_table.GROUP_COLUMNS)
    assert table["seeds"].tolist() == [3, 3]
    assert table["test accuracy"].tolist() == [99.21, 95.45] and table["lowest"].tolist() == [99.10, 95.2]
    assert table["highest"].tolist() == [99.27, 95.7] and table["did not train"].tolist() == [0, 1]
    assert table["training"].tolist() == ["fast preset", "fast preset"]  # the seed is the group's, not a setting


def test_scatter_points_are_networks_and_judgements_respect_the_spread():
    book, small = seeded((0.9921, 0.9927, 0.9910)), seeded((0.980, 0.982, 0.981), spec=PRESETS["tiny"])
    groups = compare_table.selected_groups([book[0], small[1]], book + small)
    assert [len(g.runs) for g in groups] == [3, 3]  # every cached seed of a selected run's network
    points = compare_table.group_points(groups, lambda r: r.params)
    assert [p.spread.median for p in points] == [0.9921, 0.981] and "3 seeds" in points[0].hover
    (sentence,) = compare_table.judgement_sentences(groups)
    assert "more than the seed-to-seed spread" in sentence and sentence.endswith("(full MNIST)")
    one_seed = compare_table.judgement_sentences(compare_table.selected_groups([book[0], small[0]], [book[0], small[0]]))
    assert "cannot tell" in one_seed[0]
    dying = seeded((0.1135, 0.99), failed={0})
    fig = group_scatter(compare_table.group_points(compare_table.selected_groups(dying, dying), lambda r: r.params), "parameters")
    assert [t.name for t in fig.data] == ["full MNIST", "training failed (off the scale)"]
    assert list(fig.data[0].y) == [0.99] and list(fig.data[0].text) == ["book"]  # labelled on the chart itself


def test_the_default_selection_starts_with_the_learners_newest_runs():
    listing = runs()  # the listing's order: shipped first, then newest
    assert compare_table.default_selection(listing, own_keys={"other1"}) == ["other1", "mine2", "shipped1"]
    assert compare_table.default_selection(listing) == ["mine2", "other1", "shipped1"]
    assert compare_table.default_selection(listing, limit=1) == ["mine2"]


def test_runs_are_grouped_by_their_data_full_mnist_first():
    groups = compare_table.by_data(runs())
    assert [g.name for g in groups] == ["full MNIST", "embedded subset (12,000 images)"]
    assert [r.key for r in groups[0].runs] == ["shipped1", "other1"]


def test_the_up_close_note_says_what_it_was_measured_on():
    run = runs()[1]
    assert compare_table.evaluation_note(0.97, 2000, True, run, "x") == (
        "On its 2,000 test images (embedded subset (12,000 images)): accuracy 97.00% (recorded 97.55%).")
    note = compare_table.evaluation_note(0.99, 10000, False, run, "full MNIST")
    assert "Evaluated on this server's data, full MNIST" in note and "trained and tested on embedded subset" in note


def test_scatter_marks_each_data_source_with_its_own_colour_symbol_and_legend():
    fig = accuracy_scatter([1, 2, 3], [0.99, 0.9755, 0.98], ["a", "b", "c"], "parameters",
                           groups=["full MNIST", "embedded subset (12,000 images)", "full MNIST"])
    assert [t.name for t in fig.data] == ["full MNIST", "embedded subset (12,000 images)"]
    assert list(fig.data[0].y) == [0.99, 0.98] and list(fig.data[1].y) == [0.9755]
    assert fig.data[0].marker.symbol != fig.data[1].marker.symbol and fig.data[0].marker.color != fig.data[1].marker.color
    assert all(t.showlegend for t in fig.data)


def test_mistake_labels_sit_in_a_band_under_each_digit_not_on_it():
    images = np.full((12, 28, 28), 255, np.uint8)  # all ink: any label on a digit would be on a stroke
    fig = mistakes_figure(images, true=[1] * 12, predicted=[7] * 12, cols=5)
    canvas = np.asarray(fig.data[0].z, float)
    for note in fig.layout.annotations:
        row = int(note.y)  # the label's top edge, in canvas rows (y axis reversed: it extends downwards)
        band = canvas[row: row + LABEL_BAND - 1, int(note.x)]
        assert note.yanchor == "top" and np.isnan(band).all()
    assert canvas.shape[0] == 3 * (TILE + LABEL_BAND + GAP) - GAP


def test_the_confusion_title_is_clear_of_the_predicted_axis():
    layout = json.loads(confusion_figure(np.eye(10, dtype=int)).to_json())["layout"]
    assert layout["xaxis"]["side"] == "top" and layout["margin"]["t"] >= 80
    assert layout["title"]["yanchor"] == "top" and layout["title"]["y"] > 0.95


def test_a_wrong_prediction_is_marked_by_a_symbol_not_only_by_its_colour():
    fig = mistakes_figure(np.zeros((3, 28, 28), np.uint8), true=[1, 2, 3], predicted=[7, 5, 8], cols=3)
    assert [note.text for note in fig.layout.annotations] == ["✗<b>7</b> (1)", "✗<b>5</b> (2)", "✗<b>8</b> (3)"]
    assert "✗ predicted (true)" in fig.layout.title.text


def test_charts_colour_categories_with_the_okabe_ito_palette_streamlit_is_given_too():
    import tomllib
    from pathlib import Path

    from dashboard.charts import OKABE_ITO, architecture, maps, training

    assert architecture.PALETTE == maps.PALETTE == OKABE_ITO
    assert [colour for colour, _ in training.DATA_STYLES] == list(OKABE_ITO[:4])
    theme = tomllib.loads((Path(__file__).parents[2] / ".streamlit" / "config.toml").read_text())["theme"]
    assert theme["chartCategoricalColors"] == [*OKABE_ITO, *OKABE_ITO[:2]]


def test_the_family_chart_ticks_its_own_values_and_draws_spread_and_failures():
    from dashboard.charts.training import family_chart
    from dashboard.store.seeds import Spread

    points = [(1, Spread((), failed=3)), (2, Spread((0.95, 0.96, 0.957))), (4, Spread((0.98,))), (8, None)]
    fig = family_chart(points, "filters of the last conv layer", log_x=True)
    assert list(fig.layout.xaxis.tickvals) == [1, 2, 4, 8] and list(fig.layout.xaxis.ticktext) == ["1", "2", "4", "8"]
    line, waiting, dead = fig.data
    assert list(line.x) == [2, 4] and list(line.y) == [0.957, 0.98]  # medians; the failed value is not on the line
    assert list(line.error_y.array) == pytest.approx([0.003, 0.0]) and list(line.error_y.arrayminus) == pytest.approx([0.007, 0.0])
    assert list(waiting.x) == [8] and list(dead.x) == [1] and dead.name == "did not train"
