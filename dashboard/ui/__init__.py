"""Streamlit glue: the only modules outside `pages/` that import Streamlit.

`state` keeps page state in the session and the URL; `cached` wraps the expensive calls in
`st.cache_data` / `st.cache_resource`; `widgets` holds the shared controls.
"""
