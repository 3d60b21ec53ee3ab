"""How every page starts (`setup`): its title, the server's housekeeping, and the app's navigation,
one list of pages for the sidebar and the home page.

Streamlit would label the entrypoint "streamlit app"; the config hides its automatic menu
(`client.showSidebarNavigation = false`) and every page calls `setup()`, which draws the sidebar.
(`st.navigation` was tried and measured, and not kept: with a `pages/` directory, Streamlit
1.67 runs a page file without the entrypoint on a fresh server's first visits and in AppTest
after `switch_page`; see `tests/e2e/test_navigation.py`.) Being
the first thing every page runs, `setup` also does the server's housekeeping.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.ui.page_paths import (
    ARCHITECTURE,
    CHANNELS,
    COMPARE,
    EXERCISES,
    FEATURE_MAPS,
    HOME,
    IMPORT,
    INSIDE,
    TRAIN,
)

ROOT = Path(__file__).resolve().parents[2]
APP = "ConvNet Explorer"

# (path relative to the entrypoint, label, Material icon, what the page is for), in menu order
PAGES: tuple[tuple[str, str, str, str], ...] = (
    (HOME, "Home", ":material/home:", "The question, and the short answer."),
    (ARCHITECTURE, "Architecture", ":material/account_tree:", "Change the network and watch every layer's shape, parameters and receptive field."),
    (TRAIN, "Train", ":material/model_training:", "Train any network on MNIST with live curves; nothing is trained twice."),
    (COMPARE, "Compare", ":material/bar_chart:", "Validation accuracy of different networks side by side."),
    (FEATURE_MAPS, "Feature maps", ":material/draw:", "Draw a digit and follow it layer by layer down to the 3×3 maps."),
    (INSIDE, "Inside the 3×3", ":material/grid_view:", "Why 576 numbers are enough: projections, ablations, Grad-CAM."),
    (CHANNELS, "What channels look for", ":material/visibility:", "Every channel's favourite windows and pattern, and where it fires on your digit."),
    (EXERCISES, "Exercises", ":material/school:", "Workshop tasks the app checks for you."),
    (IMPORT, "Import", ":material/upload_file:", "Bring the Keras model from your notebook and explore it on every page."),
)
# The browser tab's icon for `st.set_page_config(page_icon=FAVICON)`: a 3×3 grid as SVG, which
# Streamlit sends as a data URL. A Material icon as `page_icon` makes every browser fetch it
# from fonts.gstatic.com (the hostile-link e2e tests see that request); an emoji needs a
# colour-emoji font.
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 30 30">'
    + "".join(f'<rect x="{1 + 10 * c}" y="{1 + 10 * r}" width="8" height="8" rx="1.5" fill="#4C6EF5"/>'
              for r in range(3) for c in range(3))
    + "</svg>"
)


# Slider values in the text colour rather than the primary colour (see .streamlit/config.toml):
# readable at 4.5:1 or more in both themes. Markdown tables scroll sideways in their own box, so that
# a phone (390 px) shows the page at its width and a wide table scrolls alone; so do activation tiles. Under
# prefers-reduced-motion, Streamlit's transitions and plotly's animated frames do not move. The
# browser-storage components (dashboard.ui.learner) take no room.
STYLE = (
    "<style>"
    '.st-key-learner_read, [class*="st-key-learner_write_"] { display: none; }'
    '[data-testid="stSliderThumbValue"] { color: inherit; }'
    '[data-testid="stMarkdownContainer"] table { display: block; max-width: 100%; overflow-x: auto; }'
    # On a phone, Feature maps' activation tiles keep a readable size and their chart scrolls sideways.
    '@media (max-width: 640px) { .stElementContainer[class*="_layer_"] { overflow-x: auto; } '
    '.stElementContainer[class*="_layer_"] > div { min-width: 640px; } }'
    "@media (prefers-reduced-motion: reduce) { *, *::before, *::after { animation-duration: 0.01ms !important; "
    "animation-iteration-count: 1 !important; transition-duration: 0.01ms !important; "
    "scroll-behavior: auto !important; } }"
    "</style>"
)


def available_pages() -> list[tuple[str, str, str, str]]:
    """The pages of `PAGES` whose files exist."""
    return [page for page in PAGES if (ROOT / page[0]).exists()]


def setup(title: str, heading: str | None = None) -> None:
    """What every page does first: its tab title and icon, the server's housekeeping, the sidebar, its heading."""
    st.set_page_config(page_title=title if title == APP else f"{title} · {APP}", page_icon=FAVICON, layout="wide")
    housekeeping()
    sidebar_nav()
    st.title(heading or title)


def housekeeping() -> None:
    """Start (once per server) the sweep that releases what departed sessions held, note this session
    for it, and freeze the imported modules out of the collector's way."""
    from dashboard.ui.session_memory import freeze_imports, note_session, start_trimmer

    start_trimmer()
    note_session()
    freeze_imports()


def sidebar_nav() -> None:
    """Links to every page at the top of the sidebar, then this session's training jobs, live.

    Reads the browser's storage once per session (`dashboard.ui.learner`).
    """
    from dashboard.ui.jobs_panel import jobs_panel
    from dashboard.ui.learner import load

    st.html(STYLE)
    with st.sidebar:
        for path, label, icon, _ in available_pages():
            st.page_link(path, label=label, icon=icon)
        jobs_panel()
        st.divider()
    load()
