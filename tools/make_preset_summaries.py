"""Write `dashboard/assets/preset_summaries.json` from Keras: run after changing a preset."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard.summaries import SUMMARIES_PATH, build_preset_summaries  # noqa: E402

SUMMARIES_PATH.write_text(json.dumps(build_preset_summaries(), indent=1) + "\n", encoding="utf-8")
print(f"wrote {SUMMARIES_PATH}")
