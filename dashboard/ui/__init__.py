"""Streamlit glue: the only modules outside `pages/` that import Streamlit.

`page_setup` starts every page (title, housekeeping, sidebar); `state` keeps page state in the
session and the URL; `cached`, `run_picker` and `session_memory` hold the server's shared,
bounded caches of runs and their results; `text`, `chart` and `widgets` are the shared
controls; each `*_panel(s)` module draws one page's sections from what `dashboard.views`,
`dashboard.inspection` and `dashboard.charts` compute, and `jobs_panel` the sidebar's jobs.
"""
