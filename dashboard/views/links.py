"""Page state in the URL query string: decode with safe fallbacks, encode canonically.

Every page keeps what it shows (network, run, digit, …) in the query string so that a copied
link reopens the same view. Anything malformed or hostile falls back to a default and yields a
warning for the page to show. Warnings are plain text (never markdown): a value from the link is
quoted short and flat by `plain`, and `dashboard.ui.state` shows the warning escaped.
Pure Python, no Streamlit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from dashboard.network.spec import BOOK, PRESETS, NetworkSpec, SpecError, preset_name
from dashboard.outside import plain

MAX_VALUE_LENGTH = 2000  # longer than any valid spec's JSON; a longer value is refused unread
_TOKEN = re.compile(r"^[A-Za-z0-9_\-.]{1,80}$")


def _quoted(text: str, limit: int = 40) -> str:
    """A value from the link, quoted in a warning: shortened, flattened, in quotes (plain text)."""
    return repr(plain(text, limit))


def _first(params: Mapping[str, str | Sequence[str]], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):  # a repeated key: ?spec=a&spec=b
        value = value[-1] if len(value) else ""
    return value


def spec_from_params(
    params: Mapping[str, str | Sequence[str]], default: NetworkSpec = BOOK
) -> tuple[NetworkSpec, str | None]:
    """The network named by `?preset=` or `?spec=` (JSON), or `default` and a warning."""
    preset = _first(params, "preset")
    text = _first(params, "spec")
    if text is not None:
        if len(text) > MAX_VALUE_LENGTH:
            return default, f"The link's network is too long ({len(text):,} characters); showing the default."
        try:
            return NetworkSpec.from_json(text), None
        except SpecError as err:
            return default, f"The link's network was not used ({err}); showing the default."
    if preset is not None:
        if preset in PRESETS:
            return PRESETS[preset], None
        return default, f"Unknown preset {_quoted(preset)} in the link; showing the default."
    return default, None


def spec_to_params(spec: NetworkSpec) -> dict[str, str]:
    """`{"preset": name}` for a preset, else `{"spec": canonical JSON}`."""
    name = preset_name(spec)
    return {"preset": name} if name else {"spec": spec.to_json()}


def int_from_params(
    params: Mapping[str, str | Sequence[str]], name: str, low: int, high: int, default: int
) -> tuple[int, str | None]:
    """A whole number in [low, high] from `?name=`, or `default` and a warning."""
    text = _first(params, name)
    if text is None:
        return default, None
    text = text.strip()
    if not re.fullmatch(r"-?\d{1,9}", text) or not low <= int(text) <= high:
        return default, f"Ignored {name}={_quoted(text)} in the link (expected {low}–{high})."
    return int(text), None


def token_from_params(
    params: Mapping[str, str | Sequence[str]], name: str, allowed: Sequence[str] | None = None
) -> tuple[str | None, str | None]:
    """A short identifier (run key, option name) from `?name=`, or None and a warning."""
    text = _first(params, name)
    if text is None:
        return None, None
    if not _TOKEN.match(text) or (allowed is not None and text not in allowed):
        return None, f"Ignored {name}={_quoted(text)} in the link."
    return text, None
