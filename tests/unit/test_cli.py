"""`python -m dashboard summary`: tables, JSON and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dashboard.cli.main import main


def test_summary_table_looks_like_model_summary(capsys):
    assert main(["summary", "--preset", "book"]) == 0
    out = capsys.readouterr().out
    assert "conv2d_2 (Conv2D)" in out and "(None, 3, 3, 64)" in out and "36,928" in out
    assert "Total params: 93,322" in out


def test_summary_json_layout(capsys):
    assert main(["summary", "--preset", "book", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["total_params"] == 93_322
    first = doc["layers"][0]
    assert set(first) == {"name", "type", "output_shape", "params", "receptive_field", "jump", "params_formula"}
    assert doc["layers"][4]["params_formula"] == "3×3×64 weights per filter × 64 filters + 64 biases = 36,928"
    assert first["output_shape"] == [None, 26, 26, 32]
    assert [layer["receptive_field"] for layer in doc["layers"][:5]] == [3, 4, 8, 10, 18]


def test_summary_takes_a_spec_file(tmp_path, capsys):
    path = tmp_path / "net.json"
    path.write_text(json.dumps({"blocks": [{"filters": 4, "pool": False}], "dense_units": 0}))
    assert main(["summary", "--spec", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["total_params"] == (9 + 1) * 4 + (26 * 26 * 4 + 1) * 10


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param('{"blocks": [{"filters": 0}]}', "block 1: filters must be 1 to 256", id="range"),
        pytest.param('{"blocks": [{"filters": 8}], "extra": 1}', "unknown key(s) 'extra'", id="unknown"),
        pytest.param("/no/such/file.json", "cannot read spec file", id="missing-file"),
        pytest.param("{oops", "not valid JSON", id="bad-json"),
    ],
)
def test_invalid_specs_exit_2_with_the_message(spec, message, capsys):
    assert main(["summary", "--spec", spec]) == 2
    assert message in capsys.readouterr().err


def test_module_entry_point_runs():
    result = subprocess.run(
        [sys.executable, "-m", "dashboard", "summary", "--preset", "tiny", "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total_params"] == 14_410


def test_summary_of_the_largest_network_builds_no_model():
    """The summary is pure arithmetic: TensorFlow is never imported, so no weights are allocated."""
    spec = json.dumps({"blocks": [{"filters": 256, "kernel_size": 7, "padding": "same", "pool": False}] * 6,
                       "dense_units": 512})
    code = ("import sys; from dashboard.cli.main import main; rc = main(['summary', '--json', '--spec', sys.argv[1]]); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules; sys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", code, spec], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total_params"] == 118_836_490
