"""The network description's newer block fields: average pooling and batch normalization."""

from __future__ import annotations

import json

import pytest

from dashboard.network.spec import BOOK, PRESETS, ConvBlock, NetworkSpec, SpecError
from dashboard.store.cache import make_key
from dashboard.training.train_settings import TRAIN_PRESETS

BOOK_KEY_BEFORE = "6b68a242e2187dd1"  # make_key(BOOK, book preset, "x"): pool_type and batch_norm left out at their defaults
NEW = NetworkSpec(blocks=(ConvBlock(8, batch_norm=True, pool_type="avg"), ConvBlock(16, pool=True)), dense_units=16)


def test_old_specs_keep_their_json_keys_and_links():
    # Exactly the layout written before the fields existed: no pool_type, no batch_norm.
    assert ConvBlock(32).to_dict() == {"filters": 32, "kernel_size": 3, "strides": 1, "padding": "valid", "pool": True}
    for spec in PRESETS.values():
        assert "pool_type" not in spec.to_json() and "batch_norm" not in spec.to_json()
    # A key hashes the canonical spec: the book key is the one computed before this change.
    assert make_key(BOOK, TRAIN_PRESETS["book"], "x") == BOOK_KEY_BEFORE
    old_json = ('{"blocks":[{"filters":32,"kernel_size":3,"padding":"valid","pool":true,"strides":1},'
                '{"filters":64,"kernel_size":3,"padding":"valid","pool":true,"strides":1},'
                '{"filters":64,"kernel_size":3,"padding":"valid","pool":false,"strides":1}],'
                '"dense_units":64,"dropout":0.0,"head":"flatten"}')
    assert BOOK.to_json() == old_json and NetworkSpec.from_json(old_json) == BOOK


def test_new_fields_round_trip_and_describe():
    data = json.loads(NEW.to_json())
    assert data["blocks"][0]["pool_type"] == "avg" and data["blocks"][0]["batch_norm"] is True
    assert "pool_type" not in data["blocks"][1]
    assert NetworkSpec.from_json(NEW.to_json()) == NEW
    assert NEW.describe().startswith("conv8-bn-avgpool · conv16-pool")


def test_bad_pool_type_is_refused():
    with pytest.raises(SpecError, match="pool_type must be 'max' or 'avg'"):
        NetworkSpec.from_dict({"blocks": [{"filters": 4, "pool_type": "median"}]})
    with pytest.raises(SpecError, match="'batch_norm' must be true or false"):
        NetworkSpec.from_dict({"blocks": [{"filters": 4, "batch_norm": "yes"}]})


@pytest.mark.slow
def test_summary_matches_keras_for_batch_norm_and_average_pooling():
    from dashboard.network.summaries import summarize
    from dashboard.training.model import build_model

    model = build_model(NEW)
    rows = summarize(NEW)
    assert [(r.name, r.type, tuple(r.output_shape), r.params) for r in rows] == [
        (layer.name, type(layer).__name__, tuple(layer.output.shape), layer.count_params()) for layer in model.layers
    ]
    assert [r.type for r in rows][:3] == ["Conv2D", "BatchNormalization", "AveragePooling2D"]
    assert rows[1].params == 4 * 8  # γ, β, moving mean and variance per channel
