"""Outside input where it is parsed and quoted (issue 10, defects 1 and 2), below the pages.

Messages built from outside values are plain text: the value is quoted short and flat, so that
`ui.text` can show the message escaped; JSON from links, files, uploads and cache records is
bounded in size and nesting before `json.loads` sees it, and the CLI exits 2 with one line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.charts.inside import depth_size_chart
from dashboard.charts.training import accuracy_scatter, compare_curves
from dashboard.cli.main import main
from dashboard.network.spec import NetworkSpec, SpecError
from dashboard.outside import escape_markdown, plotly_text
from dashboard.store.cache import ModelCache, RunRecord
from dashboard.training.grids import GridError, load_grid
from dashboard.views import links
from dashboard.workshop import exercises as ex
from tests.app.markup import markup_in_markdown, markup_in_plotly

ROOT = Path(__file__).resolve().parents[2]
LINK = "[Login here](https://example.org/x)"
IMAGE = "![x](https://example.org/a.png)"
DEEP = ["[" * 2000, "{" * 2000, '{"blocks":' * 1000, "[" * 2000 + "]" * 2000]


def as_page_shows(message: str) -> list[str]:
    """Markup in `message` once `ui.text` has escaped it (empty: it renders as plain text)."""
    return markup_in_markdown(escape_markdown(message, limit=1200))


# --- link warnings and network messages ------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [{"preset": LINK}, {"preset": IMAGE}, {"spec": json.dumps({"blocks": [{"filters": 32}], "head": LINK})},
     {"spec": json.dumps({"blocks": [{"filters": 8, "padding": IMAGE, LINK: 1}]})}, {"spec": "[" * 2000}],
    ids=["preset-link", "preset-image", "head-link", "padding-and-key", "deep"],
)
def test_spec_link_warnings_are_short_plain_text(params):
    spec, warning = links.spec_from_params(params)
    assert spec == links.BOOK and warning
    assert "\n" not in warning and len(warning) < 400
    assert "nested too deeply" in warning or markup_in_markdown(warning)  # raw, the value would render…
    assert as_page_shows(warning) == []  # …escaped, as the page shows it, it does not


@pytest.mark.parametrize("value", [LINK, IMAGE, "x" * 5000 + LINK, "\u202e" + LINK])
def test_int_and_token_warnings_quote_at_most_20_characters(value):
    _, int_warning = links.int_from_params({"step": value}, "step", 1, 9, 1)
    _, token_warning = links.token_from_params({"run": value}, "run")
    for warning in (int_warning, token_warning):
        assert warning and len(warning) < 90 and "\u202e" not in warning
        assert as_page_shows(warning) == []


@pytest.mark.parametrize("text", DEEP)
def test_deep_json_is_a_spec_error_not_a_recursion_error(text):
    with pytest.raises(SpecError, match="nested too deeply|not valid JSON"):
        NetworkSpec.from_json(text)


def test_huge_and_long_values_are_quoted_short():
    text = json.dumps({"blocks": [{"filters": 10**300, "padding": "p" * 5000}], "head": "h" * 5000, "x" * 999: 1})
    with pytest.raises(SpecError) as caught:
        NetworkSpec.from_json(text)
    assert len(str(caught.value)) < 600
    assert all(len(problem) < 160 for problem in caught.value.problems)


# --- the command line --------------------------------------------------------------------------


@pytest.mark.parametrize("text", DEEP[:3])
def test_cli_summary_of_a_deep_spec_file_exits_2_with_one_line(tmp_path, capsys, text):
    path = tmp_path / "deep.json"
    path.write_text(text)
    assert main(["summary", "--spec", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid network:") and err.count("\n") == 1 and "nested too deeply" in err


def test_cli_warm_with_a_deep_grid_file_exits_2_with_one_line(tmp_path, capsys):
    path = tmp_path / "grid.json"
    path.write_text("[" * 3000)
    assert main(["warm", "--grid", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read grid file") and err.count("\n") == 1 and "nested too deeply" in err


def test_cli_deep_spec_as_a_process_has_no_traceback(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 5000)
    result = subprocess.run([sys.executable, "-m", "dashboard", "summary", "--spec", str(path)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.strip().count("\n") == 0


def test_grid_files_are_bounded(tmp_path):
    big = tmp_path / "big.json"
    big.write_text("[" + ",".join(["{}"] * 2_100_000) + "]")
    with pytest.raises(GridError, match="too large|too long"):
        load_grid(str(big))
    deep = tmp_path / "deep.json"
    deep.write_text('[{"spec":' * 40 + "1" + "}]" * 40)
    with pytest.raises(GridError, match="nested too deeply"):
        load_grid(str(deep))


# --- uploads and cache records -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (json.dumps({"format": ex.PROGRESS_FORMAT, "version": LINK, "step": IMAGE}), "another version"),
        (json.dumps({"format": ex.PROGRESS_FORMAT, "version": ex.PROGRESS_VERSION, "step": IMAGE}), "Ignored the step"),
        ("[" * 3000, "nested too deeply"),
        ('{"answers":' * 500, "nested too deeply"),
    ],
)
def test_progress_upload_warnings_are_plain_and_bounded(content, words):
    seq = ex.exercises(lookup=lambda key: None)
    progress, warnings = ex.progress_from_json(content.encode(), seq)
    assert progress["step"] == 0
    assert any(words in w for w in warnings), warnings
    assert all(len(w) < 200 and as_page_shows(w) == [] for w in warnings)


def test_a_deeply_nested_record_is_damage_not_a_crash(tmp_path):
    cache = ModelCache(root=tmp_path, shipped_root=None)
    entry = tmp_path / "abc123"
    entry.mkdir()
    (entry / "record.json").write_text("[" * 5000)
    (entry / "model.keras").write_bytes(b"not a zip")
    runs, problems = cache.scan()
    assert runs == [] and len(problems) == 1 and "nested too deeply" in problems[0]
    with pytest.raises(ValueError, match="nested too deeply"):
        RunRecord.from_json('{"key":' * 100)


# --- plotly text ---------------------------------------------------------------------------------


def test_plotly_text_shows_tags_as_text():
    assert plotly_text("<a href='https://example.org'>x</a> & <b>") == "&lt;a href='https://example.org'&gt;x&lt;/a&gt; &amp; &lt;b&gt;"
    assert len(plotly_text("x" * 500)) == 60


def test_run_labels_in_charts_render_no_links():
    hostile = ["<a href='https://example.org/x'>run</a>", "<A HREF=//example.org>r</A>"]
    figures = [
        compare_curves({label: [0.9, 0.95] for label in hostile}),
        accuracy_scatter([1, 2], [0.9, 0.95], hostile, "parameters"),
        depth_size_chart([3, 1], [0.9, 0.95], [100, 200], hostile),
    ]
    for fig in figures:
        assert markup_in_plotly(fig.to_json()) == []
    assert markup_in_plotly(json.dumps({"data": [{"name": hostile[0]}]}))  # the check itself sees raw tags
