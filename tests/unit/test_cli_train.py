"""`python -m dashboard train | warm | cache`: through the same cache as the app, clear errors on bad input."""

from __future__ import annotations

import json

import pytest

from dashboard.cli.commands import EXIT_BAD_INPUT
from dashboard.cli.main import main
from dashboard.jobs.job_task import POOL_LABEL
from dashboard.network.spec import PRESETS
from dashboard.training.grids import GridError, builtin_grids, load_grid, parse_grid
from dashboard.training.train_settings import TRAIN_PRESETS

TINY_ARGS = ["--preset", "tiny", "--data", "embedded", "--epochs", "1", "--train-size", "500"]


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def run_json(capsys, *args: str) -> dict:
    assert main(["train", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow  # trains
def test_train_prints_the_result_then_hits_the_cache(capsys, own_cache):
    first = run_json(capsys, *TINY_ARGS)
    assert set(first) == {"key", "seed", "cache_hit", "stored", "trained", "diagnosis", "dead_channels", "history",
                          "test_accuracy", "train_seconds", "params", "trained_on", "queued_seconds"}
    assert first["trained"] is True and first["diagnosis"] is None and first["seed"] == 0
    assert first["cache_hit"] is False and first["stored"] is True and first["params"] == 14_410
    assert POOL_LABEL in first["trained_on"] and first["queued_seconds"] >= 0
    assert all(len(v) == 1 for v in first["history"].values())
    assert (own_cache / first["key"] / "model.keras").is_file()
    second = run_json(capsys, *TINY_ARGS)
    assert second["cache_hit"] is True and second["key"] == first["key"]
    assert second["test_accuracy"] == first["test_accuracy"]
    other_seed = run_json(capsys, *TINY_ARGS, "--seed", "4")
    assert other_seed["key"] != first["key"] and other_seed["cache_hit"] is False


@pytest.mark.slow  # trains twice
def test_train_with_seeds_reports_each_run_its_verdict_and_the_spread(capsys):
    # One last filter at a high learning rate: seed 0 trains (59.55%), seed 1 kills its only channel (10.00%).
    spec = json.dumps({"blocks": [{"filters": 4}, {"filters": 1}], "dense_units": 0})
    out = run_json(capsys, "--spec", spec, "--data", "embedded", "--epochs", "1", "--train-size", "2000",
                   "--learning-rate", "0.05", "--seeds", "2")
    assert (out["seeds"], out["trained"], out["failed"]) == (2, 1, 1)
    alive, dead = out["runs"]
    assert (alive["seed"], alive["trained"], dead["seed"], dead["trained"]) == (0, True, 1, False)
    assert out["median"] == out["low"] == out["high"] == alive["test_accuracy"] == pytest.approx(0.5955, abs=1e-4)
    assert dead["dead_channels"] == 1 and "1 of 1 channel of the last conv layer never fires" in dead["diagnosis"]
    assert main(["train", "--spec", spec, "--data", "embedded", "--epochs", "1", "--train-size", "2000",
                 "--learning-rate", "0.05", "--seeds", "2"]) == 0  # from the cache: the same verdicts in words
    text = capsys.readouterr().out
    assert "(seed 1, from the cache)" in text and "This training failed" in text
    assert "test accuracy: 59.55% (1 seed; 1 more did not train)" in text


@pytest.mark.parametrize("value", ["0", "11", "two"])
def test_seeds_out_of_range_are_refused(capsys, value):
    with pytest.raises(SystemExit) as raised:
        main(["train", "--preset", "tiny", "--seeds", value])
    assert raised.value.code == EXIT_BAD_INPUT and "--seeds" in capsys.readouterr().err


@pytest.mark.slow  # trains
def test_train_accepts_a_spec_and_the_fast_preset(capsys):
    spec = json.dumps({"blocks": [{"filters": 2}], "dense_units": 0})
    out = run_json(capsys, "--spec", spec, "--train-preset", "fast", "--data", "embedded", "--train-size", "300")
    assert out["params"] == 2 * 9 + 2 + 13 * 13 * 2 * 10 + 10
    assert len(out["history"]["val_accuracy"]) == TRAIN_PRESETS["fast"].epochs


@pytest.mark.parametrize(
    "args, words",
    [
        (["--data", "/no/such/mnist.npz"], "no such file"),
        (["--epochs", "0"], "epochs must be 1 to 20"),
        (["--train-size", "5"], "training-set size must be at least"),
        (["--data", "embedded", "--learning-rate", "-1"], "learning rate must be above 0"),
    ],
    ids=["missing-data", "epochs-0", "size-5", "negative-lr"],
)
def test_train_bad_input_exits_2_with_a_message(capsys, args, words):
    assert main(["train", "--preset", "tiny", *args]) == EXIT_BAD_INPUT
    assert words in capsys.readouterr().err


def test_train_with_an_invalid_spec_exits_2(capsys):
    assert main(["train", "--spec", '{"blocks": []}', "--data", "embedded"]) == EXIT_BAD_INPUT
    assert "invalid network" in capsys.readouterr().err


@pytest.mark.slow  # trains
def test_warm_trains_a_grid_once_and_skips_it_the_second_time(tmp_path, capsys):
    grid = tmp_path / "grid.json"
    small = {"train_size": 300, "epochs": 1}
    grid.write_text(json.dumps([
        {"preset": "tiny", "train_preset": "book", "settings": small},
        {"spec": {"blocks": [{"filters": 2}], "dense_units": 0}, "settings": small},
    ]))
    assert main(["warm", "--grid", str(grid), "--data", "embedded"]) == 0
    captured = capsys.readouterr()
    assert "2 trained, 0 already cached" in captured.out
    assert "[1/2] tiny · book" in captured.err and "[2/2]" in captured.err
    assert main(["warm", "--grid", str(grid), "--data", "embedded"]) == 0
    captured = capsys.readouterr()
    assert "0 trained, 2 already cached" in captured.out and captured.err.count("cached, skipped") == 2
    assert main(["cache", "list", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) >= 2


def test_workshop_grid_covers_every_preset_with_the_fast_settings():
    grid = load_grid("workshop")
    assert [spec for _, spec, _ in grid] == list(PRESETS.values())
    assert {settings for _, _, settings in grid} == {TRAIN_PRESETS["fast"]}
    assert builtin_grids()["workshop"][0] == {"preset": "book", "train_preset": "fast"}


@pytest.mark.parametrize(
    "content, words",
    [
        ("[not json", "cannot read grid file"),
        ("[]", "non-empty list"),
        ('[{"preset": "huge"}]', "run 1: unknown network preset 'huge'"),
        ('[{"preset": "tiny", "spec": {}}]', "exactly one of 'preset' and 'spec'"),
        ('[{"preset": "tiny", "settings": {"epochs": 99}}]', "epochs must be 1 to 20"),
        ('[{"preset": "tiny", "colour": 1}]', "unknown key(s) 'colour'"),
        ('[{"preset": "tiny", "train_preset": "turbo"}]', "unknown training preset"),
    ],
    ids=["bad-json", "empty", "unknown-preset", "both", "bad-settings", "unknown-key", "bad-train-preset"],
)
def test_bad_grid_exits_2_with_a_message(tmp_path, capsys, content, words):
    grid = tmp_path / "grid.json"
    grid.write_text(content)
    assert main(["warm", "--grid", str(grid), "--data", "embedded"]) == EXIT_BAD_INPUT
    assert words in capsys.readouterr().err


def test_unknown_grid_name_is_refused():
    with pytest.raises(GridError, match="neither a built-in grid"):
        load_grid("no-such-grid")
    with pytest.raises(GridError, match="non-empty list"):
        parse_grid({"runs": "x"})


@pytest.mark.slow  # trains
def test_cache_list_verify_and_prune(capsys, own_cache):
    key = run_json(capsys, *TINY_ARGS)["key"]
    assert main(["cache", "list"]) == 0
    out = capsys.readouterr().out
    assert key in out and "tiny" in out
    assert main(["cache", "verify"]) == 0
    assert "0 damaged" in capsys.readouterr().out
    model = own_cache / key / "model.keras"
    model.write_bytes(model.read_bytes()[:500])
    assert main(["cache", "verify"]) == 1
    out = capsys.readouterr().out
    assert "1 damaged" in out and key in out
    assert main(["cache", "prune"]) == 0
    assert f".damaged/{key}" in capsys.readouterr().out
    assert not list((own_cache / ".damaged").iterdir())


@pytest.mark.slow  # trains
def test_train_into_an_unwritable_cache_exits_2_naming_the_directory(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("MODEL_CACHE_DIR", str(blocker / "cache"))
    assert main(["train", *TINY_ARGS, "--seed", "7", "--json"]) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert f"the model cache at {blocker / 'cache'} cannot be written" in captured.err
    assert "Traceback" not in captured.err
    out = json.loads(captured.out)  # the results are still printed
    assert out["stored"] is False and 0 <= out["test_accuracy"] <= 1
