"""What the app keeps in the learner's browser (localStorage), as plain data and JavaScript text.

One localStorage entry, `convnet-explorer`, holds a JSON object:

- `learner`: a random per-browser id (32 hex digits), made the first time the browser opens the
  app. It names a browser, not a person, and never leaves that browser except to this server
  (`dashboard.ui.learner.learner_id`), so that, for example, the jobs panel can follow a learner
  across reloads.
- `progress`: the exercise progress (`dashboard.workshop.exercises.progress_to_json`, at step 0), so that a
  reload or a new tab in the same browser keeps what was solved. It is never put in a URL: a
  shared link carries no one's progress. The server rechecks stored answers as it does an
  uploaded progress file, so an edited entry cannot claim a solution.

The browser runs the expressions below (through the `streamlit_js_eval` component); this module
builds them and reads their answers. Pure Python: no Streamlit.
"""

from __future__ import annotations

import json
import re
from typing import Any

STORAGE_KEY = "convnet-explorer"
LEARNER_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_PROGRESS_CHARS = 200_000  # a stored progress longer than this is ignored

# Reads the entry, first giving the browser its learner id if it has none; answers the entry as JSON.
# crypto.getRandomValues works without HTTPS too (a workshop's server may be plain http).
_READ = """(() => {
  const key = %s;
  let stored = {};
  try { stored = JSON.parse(window.localStorage.getItem(key) || "{}") || {}; } catch (e) { stored = {}; }
  if (typeof stored !== "object" || Array.isArray(stored)) stored = {};
  if (typeof stored.learner !== "string" || !/^[0-9a-f]{32}$/.test(stored.learner)) {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    stored.learner = Array.from(bytes, b => b.toString(16).padStart(2, "0")).join("");
    window.localStorage.setItem(key, JSON.stringify(stored));
  }
  return JSON.stringify(stored);
})()"""

# Sets the entry's `progress` (keeping its other fields); answers "saved".
_WRITE = """(() => {
  const key = %s;
  let stored = {};
  try { stored = JSON.parse(window.localStorage.getItem(key) || "{}") || {}; } catch (e) { stored = {}; }
  if (typeof stored !== "object" || Array.isArray(stored)) stored = {};
  stored.progress = %s;
  window.localStorage.setItem(key, JSON.stringify(stored));
  return "saved";
})()"""


def read_expression() -> str:
    """JavaScript that answers the stored entry as JSON text, giving the browser a learner id first."""
    return _READ % json.dumps(STORAGE_KEY)


def write_expression(progress_text: str) -> str:
    """JavaScript that stores `progress_text` as the entry's progress (a JSON string literal: any text is safe)."""
    return _WRITE % (json.dumps(STORAGE_KEY), json.dumps(str(progress_text)))


def parse(raw: Any) -> dict[str, str | None]:
    """The browser's answer to `read_expression` as {"learner": id or None, "progress": text or None}.

    Anything else the browser sent (a damaged or edited entry) is dropped.
    """
    try:
        stored = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        stored = None
    if not isinstance(stored, dict):
        stored = {}
    learner = stored.get("learner")
    progress = stored.get("progress")
    return {
        "learner": learner if isinstance(learner, str) and LEARNER_ID.match(learner) else None,
        "progress": progress if isinstance(progress, str) and len(progress) <= MAX_PROGRESS_CHARS else None,
    }
