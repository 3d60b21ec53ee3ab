"""Summaries without TensorFlow, and the caps on what the app builds and trains."""

from __future__ import annotations

import pytest

from dashboard.network.spec import BOOK, PRESETS, ConvBlock, NetworkSpec
from dashboard.network.summaries import (
    MAX_TRAIN_MULTIPLY_ADDS,
    MAX_TRAIN_PARAMS,
    multiply_adds,
    total_params,
    training_problems,
)

LARGEST = NetworkSpec(blocks=(ConvBlock(256, 7, padding="same", pool=False),) * 6, dense_units=512)


def test_the_largest_valid_network_is_summarised_and_refused_for_training():
    assert total_params(LARGEST) == 118_836_490
    found = training_problems(LARGEST)
    assert "118,836,490 parameters" in found[0] and f"{MAX_TRAIN_PARAMS:,}" in found[0]
    assert "multiply-adds" in found[1]
    assert "Architecture" in found[-1]


def test_book_multiply_adds_by_hand():
    # conv2d 26·26·32·9 + conv2d_1 11·11·64·288 + conv2d_2 3·3·64·576 + dense 576·64 + dense_1 64·10
    assert multiply_adds(BOOK) == 194_688 + 2_230_272 + 331_776 + 36_864 + 640


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_can_be_trained(name):
    assert training_problems(PRESETS[name]) == []


def test_a_wide_global_average_network_is_refused_for_its_computation_alone():
    wide = NetworkSpec(blocks=(ConvBlock(128, 7, padding="same", pool=False),) * 3, head="global_avg", dense_units=0)
    assert total_params(wide) <= MAX_TRAIN_PARAMS < total_params(LARGEST)
    assert multiply_adds(wide) > MAX_TRAIN_MULTIPLY_ADDS
    assert len(training_problems(wide)) == 2 and "multiply-adds" in training_problems(wide)[0]
