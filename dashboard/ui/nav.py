"""The app's navigation: Streamlit's own menu (`st.navigation`), and what runs before every page.

The entrypoint (`streamlit_app.py`) builds the menu from `PAGES` and runs `before_every_page()`
and then the chosen page, on every run of every page. The files in `pages/` keep their URLs:
`st.Page` takes a file's URL path from its name without the number (`pages/1_Architecture.py`
is served at `/Architecture`), and links with a query string keep it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import streamlit as st

from dashboard.ui import state

APP_NAME = "ConvNet Explorer"
# The browser tab's icon, a 3×3 grid, as SVG: Streamlit sends it as a data URL. A Material icon
# as `page_icon` would make every browser fetch it from fonts.gstatic.com, and without this
# `st.navigation` would use the page's Material icon the same way.
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 30 30">'
    + "".join(f'<rect x="{1 + 10 * c}" y="{1 + 10 * r}" width="8" height="8" rx="1.5" fill="#4C6EF5"/>'
              for r in range(3) for c in range(3))
    + "</svg>"
)


class PageInfo(NamedTuple):
    """One entry of the menu: file (relative to the entrypoint), title, Material icon, purpose."""

    path: str
    title: str
    icon: str
    text: str


HOME = PageInfo("", "Home", ":material/home:", "The question, and the short answer.")
PAGES: tuple[PageInfo, ...] = (
    PageInfo("pages/1_Architecture.py", "Architecture", ":material/account_tree:",
             "Change the network and watch every layer's shape, parameters and receptive field."),
    PageInfo("pages/2_Train.py", "Train", ":material/model_training:",
             "Train any network on MNIST with live curves; nothing is trained twice."),
    PageInfo("pages/3_Compare.py", "Compare", ":material/bar_chart:",
             "Validation accuracy of different networks side by side."),
    PageInfo("pages/4_Feature_maps.py", "Feature maps", ":material/draw:",
             "Draw a digit and follow it layer by layer down to the 3×3 maps."),
    PageInfo("pages/5_Inside_the_3x3.py", "Inside the 3×3", ":material/grid_view:",
             "Why 576 numbers are enough: projections, ablations, Grad-CAM."),
    PageInfo("pages/8_Channels.py", "What channels look for", ":material/visibility:",
             "Every channel's favourite windows and pattern, and where it fires on your digit."),
    PageInfo("pages/6_Exercises.py", "Exercises", ":material/school:",
             "Workshop tasks the app checks for you."),
    PageInfo("pages/7_Import.py", "Import", ":material/upload_file:",
             "Bring the Keras model from your notebook and explore it on every page."),
)


def menu(home: Callable[[], None]) -> list[st.Page]:
    """The pages in menu order: `home` (a function of the entrypoint) first, then `PAGES`."""
    first = st.Page(home, title=HOME.title, icon=HOME.icon, default=True)
    return [first, *(st.Page(p.path, title=p.title, icon=p.icon) for p in PAGES)]


def page_setup() -> None:
    """Wide layout and the local tab icon; call before `st.navigation`, which would otherwise set
    the page's Material icon as the tab icon (fetched from Google's font server)."""
    st.set_page_config(page_icon=FAVICON, layout="wide")


def before_every_page(page: st.Page) -> None:
    """What every page needs first: its tab title, kept widget values, the sidebar jobs panel.

    Remembers the values of kept widgets (`state.remember_widgets`) before Streamlit drops
    those of the page just left; starts, once per server, the thread that hands freed memory
    back to the system.
    """
    from dashboard.ui.jobs import jobs_panel
    from dashboard.ui.memory import start_trimmer

    title = APP_NAME if page.title == HOME.title else f"{page.title} · {APP_NAME}"
    st.set_page_config(page_title=title)
    state.remember_widgets()
    start_trimmer()
    with st.sidebar:
        jobs_panel()


def explore_links() -> None:
    """A link to every page but home, with what it is for (the home page's list)."""
    for info in PAGES:
        st.page_link(info.path, label=f"**{info.title}** — {info.text}", icon=info.icon)
