"""A training that failed is called a failure: thresholds on hand-made measurements, the record round trip."""

from __future__ import annotations

import json
import math

from dashboard.store.run import RunRecord
from dashboard.training.diagnosis import LN10, dead_channels_sentence, diagnose
from tests.unit.test_run import trained


def test_chance_accuracy_or_a_flat_loss_is_a_failure_and_dead_channels_explain_it():
    good = diagnose({"val_loss": [0.5]}, 0.99, 0.1135, dead=3, channels=64)
    assert good.trained and good.sentence is None
    dead = diagnose({"val_loss": [2.301]}, 0.1135, 0.1135, dead=1, channels=1)
    assert not dead.trained
    assert dead.sentence == ("This training failed: test accuracy 11.35% is no better than always answering the "
                             "commonest digit (11.35%) by much; 1 of 1 channel of the last conv layer never fires on a test "
                             "image, so the classifier reads only zeros. Another seed may train.")
    assert diagnose({"val_loss": [LN10 - 0.08]}, 0.30, 0.1135).trained  # moved a little: trained, poorly
    flat = diagnose({"val_loss": [LN10 + 0.05]}, 0.2, 0.1135)
    assert not flat.trained and "validation loss stayed at 2.35" in flat.sentence
    assert flat.sentence.endswith("It barely moved from its random start: another seed, a larger learning rate, "
                                  "more epochs or more images may help.")
    assert diagnose({"val_loss": [LN10 + 0.2]}, 0.18, 0.1135).trained  # 18% ≥ 1.5 × 11.35%, loss off ln 10
    assert not diagnose({"val_loss": [LN10 + 0.2]}, 0.16, 0.1135).trained  # 16% < 17.0%
    assert diagnose({}, 0.171, 0.1135).trained
    assert dead_channels_sentence(3, 64) == "3 of 64 channels of the last conv layer never fire on a test image"


def test_verdicts_round_trip_and_old_records_are_judged_on_load():
    run = trained(test_accuracy=0.1135, trained=False, diagnosis="This training failed: x.", dead_channels=1,
                  commonest_share=0.1135, recipe={"intra_op_threads": 2, "inter_op_threads": 1})
    again = RunRecord.from_json(run.to_json())
    assert again == run and again.failed
    old = json.loads(run.to_json())
    for name in ("trained", "diagnosis", "dead_channels", "commonest_share", "recipe"):
        del old[name]
    judged = RunRecord.from_dict(old)
    assert judged.failed and judged.diagnosis.startswith("This training failed: test accuracy 11.35%")
    assert judged.dead_channels is None and judged.recipe == {}
    fine = json.loads(trained().to_json())
    del fine["trained"]
    assert RunRecord.from_dict(fine).trained
    for bad in ({"trained": "yes"}, {"dead_channels": -1}, {"commonest_share": 2.0}, {"trained": False, "diagnosis": 3}):
        try:
            RunRecord.from_dict({**json.loads(run.to_json()), **bad})
        except ValueError:
            continue
        raise AssertionError(f"{bad} was accepted")
    assert math.isclose(LN10, 2.302585, rel_tol=1e-6)
