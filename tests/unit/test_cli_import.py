"""`python -m dashboard summary --model` and `import`: same fields as `--spec`, exit 2 on bad files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dashboard.cli.main import main
from tests import keras_models as km

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def book_file(tmp_path_factory):
    model = km.book()
    return model, km.save(model, tmp_path_factory.mktemp("cli"), "book", "keras")


def test_summary_model_json_has_the_spec_fields(book_file, capsys):
    model, path = book_file
    assert main(["summary", "--model", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert main(["summary", "--preset", "book", "--json"]) == 0
    ours = json.loads(capsys.readouterr().out)
    assert set(doc) == set(ours) and set(doc["layers"][0]) == set(ours["layers"][0])
    assert doc["total_params"] == model.count_params()
    assert [row["output_shape"] for row in doc["layers"]] == [[None, *layer.output.shape[1:]] for layer in model.layers]
    # Same layout as the app's book network, so the same receptive fields and jumps.
    assert [(r["receptive_field"], r["jump"]) for r in doc["layers"]] == \
        [(r["receptive_field"], r["jump"]) for r in ours["layers"]]


def test_summary_model_table(book_file, capsys):
    assert main(["summary", "--model", str(book_file[1])]) == 0
    out = capsys.readouterr().out
    assert "(Conv2D)" in out and "(None, 3, 3, 8)" in out
    assert f"Total params: {book_file[0].count_params():,}" in out


def test_import_adds_a_run_then_hits_the_cache(book_file, capsys):
    _, path = book_file
    assert main(["import", str(path), "--data", "embedded", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert set(first) >= {"key", "source_file", "params", "test_accuracy", "input_scaling"}
    assert first["source_file"] == "book.keras" and len(first["key"]) == 64 and not first["cache_hit"]
    assert main(["import", str(path), "--data", "embedded", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["cache_hit"] and again["key"] == first["key"]


@pytest.mark.parametrize("command", ["summary --model", "import"])
def test_bad_file_exits_2_with_one_line(tmp_path, command):
    bad = tmp_path / "notes.keras"
    bad.write_text("not a model")
    result = subprocess.run([sys.executable, "-m", "dashboard", *command.split(), str(bad)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert lines == ["error: this is neither a .keras archive nor an .h5 file"]
