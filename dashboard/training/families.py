"""Families of runs: one network and training, one thing varied over a list of values.

A family answers a question with a curve: "how many numbers does the classifier need?" is the
book network with its last conv layer at 1, 2, 4, 8, 16, 32 and 64 filters (3×3×1 = 9 to
3×3×64 = 576 numbers), one run per value. Pure Python: pages submit the members as jobs
(`dashboard.jobs.job_manager`) and chart test accuracy against the value as they finish.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dashboard.network.spec import BOOK, LAST_FILTERS, ConvBlock, NetworkSpec, SpecError, final_map, problems
from dashboard.training.train_settings import TRAIN_PRESETS, SettingsError, TrainSettings

VARIES: dict[str, str] = {  # what a family can vary → how a person reads it
    "last_filters": "filters of the last conv layer",
    "blocks": "number of conv blocks",
    "dense_units": "dense units",
    "train_size": "training images",
}
MAX_MEMBERS = 8  # one session's job cap: a family fits in it
BUILTIN_NAME = "How many numbers does the classifier need?"
BUILTIN_VARY = "last_filters"
BUILTIN_VALUES = tuple(LAST_FILTERS)  # 1, 2, 4, …, 64: the runs `recipe` ships
BUILTIN_SETTINGS = "fast"


class FamilyError(ValueError):
    """A family that cannot be trained; the message says why."""


@dataclass(frozen=True)
class Member:
    """One run of a family: the varied value, and the network and settings it gives."""

    value: int
    spec: NetworkSpec
    settings: TrainSettings

    def numbers(self) -> int:
        """Numbers the last conv map hands to the classifier (side × side × channels)."""
        side, channels = final_map(self.spec)
        return side * side * channels


def parse_values(text: str) -> list[int]:
    """'1, 2, 4' → [1, 2, 4]; raise `FamilyError` on anything but 1–8 distinct whole numbers ≥ 1."""
    if len(text) > 200:
        raise FamilyError("the list of values is too long")
    parts = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    try:
        values = [int(part) for part in parts]
    except ValueError:
        raise FamilyError("values must be whole numbers separated by commas, e.g. 1, 2, 4, 8") from None
    if not values:
        raise FamilyError("give at least one value")
    if len(values) > MAX_MEMBERS:
        raise FamilyError(f"at most {MAX_MEMBERS} values in one family")
    if min(values) < 1:
        raise FamilyError("values must be at least 1")
    return sorted(set(values))


def _with_blocks(spec: NetworkSpec, count: int) -> NetworkSpec:
    """The first `count` blocks; more than there are repeat the last one without pooling."""
    blocks = list(spec.blocks[:count])
    while len(blocks) < count:
        last = blocks[-1] if blocks else ConvBlock(32)
        blocks.append(replace(last, pool=False))
    return replace(spec, blocks=tuple(blocks))


def member(spec: NetworkSpec, settings: TrainSettings, vary: str, value: int) -> Member:
    """The run of a family at `value`; raise `FamilyError` if that network or setting is invalid."""
    if vary not in VARIES:
        raise FamilyError(f"cannot vary {vary!r}; choose one of {', '.join(VARIES)}")
    try:
        if vary == "last_filters":
            if not spec.blocks:
                raise FamilyError("the network has no conv layer to vary")
            spec = spec.with_block(len(spec.blocks) - 1, filters=value)
        elif vary == "blocks":
            spec = _with_blocks(spec, value)
        elif vary == "dense_units":
            spec = replace(spec, dense_units=value)
        else:
            settings = replace(settings, train_size=value)
    except SettingsError as err:
        raise FamilyError(f"{VARIES[vary]} = {value}: {err}") from None
    found = problems(spec)
    if found:
        raise FamilyError(f"{VARIES[vary]} = {value}: {'; '.join(found)}")
    return Member(value, spec, settings)


def family(spec: NetworkSpec, settings: TrainSettings, vary: str, values: list[int]) -> list[Member]:
    """Every member, in the order of `values`; raise `FamilyError` naming every invalid one."""
    out, errors = [], []
    for value in values:
        try:
            out.append(member(spec, settings, vary, value))
        except (FamilyError, SpecError) as err:
            errors.append(str(err))
    if errors:
        raise FamilyError("; ".join(errors))
    return out


def builtin_family() -> list[Member]:
    """The book network with its last conv at 1, 2, 4, …, 64 filters, fast preset."""
    return family(BOOK, TRAIN_PRESETS[BUILTIN_SETTINGS], BUILTIN_VARY, list(BUILTIN_VALUES))

