"""Import: bring a Keras model trained in a notebook and explore it like any trained run."""

from __future__ import annotations

import streamlit as st

from dashboard.ui import import_panel, page_setup

page_setup.setup("Import", "Import your own model")
st.caption(
    "Upload the `.keras` (or legacy `.h5`) file your notebook saved with `model.save(...)`: an MNIST "
    "model taking 28×28 digits as (28, 28, 1), (28, 28) or (784,). The app reads the file's "
    "configuration as plain data first and refuses any layer that carries code (`Lambda`) or is not a "
    "standard Keras layer; only then does Keras load it, in safe mode. Nothing in the file is run."
)

record = import_panel.import_upload(import_panel.model_uploader("import_file"))
if record is not None:
    import_panel.offer_architecture(record)
    import_panel.scaling_choice(record)
import_panel.imported_runs_table()
