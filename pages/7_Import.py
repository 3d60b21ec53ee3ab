"""Import: bring a Keras model trained in a notebook and explore it like any trained run."""

from __future__ import annotations

import streamlit as st

from dashboard.imported import SCALINGS, import_model, rescale
from dashboard.modelfile import ModelFileError
from dashboard.spec import NetworkSpec
from dashboard.ui import cached, imports, state
from dashboard.ui import maps as ui_maps
from dashboard.ui import runs as ui_runs

st.title("📥 Import your own model")
st.caption(
    "Upload the `.keras` (or legacy `.h5`) file your notebook saved with `model.save(...)`: an MNIST "
    "model taking 28×28 digits as (28, 28, 1), (28, 28) or (784,). The app reads the file's "
    "configuration as plain data first and refuses any layer that carries code (`Lambda`) or is not a "
    "standard Keras layer; only then does Keras load it, in safe mode. Nothing in the file is run."
)

LAST = "import_last"  # session: key of the last imported run

upload = imports.model_uploader("import_file")
record = None
if upload is not None:
    data = upload.getvalue()
    mnist = cached.mnist()
    try:
        with st.spinner("Checking the file, loading it safely and measuring it on the test set…"):
            record, hit = import_model(data, upload.name, mnist, ui_runs.model_cache())
    except ModelFileError as err:
        imports.show_refusal(str(err))
    else:
        st.session_state[LAST] = record.key
        for picker in ("fm_run", "inside_run", "compare_run"):
            st.session_state[picker] = record.key  # the next page opens on this run
        imports.show_imported(record, hit)

if record is not None and record.imported is not None and record.imported.fits:
    fits = NetworkSpec.from_dict(record.imported.fits)
    st.info(f"This model is one the app can describe and build itself: `{fits.describe()}`. Open it on "
            "**Architecture** to change it, then retrain it on **Train**.", icon="🧱")
    if st.button("Open on Architecture", key="import_open_arch", icon="🧱"):
        for name in [k for k in st.session_state if str(k).startswith("arch_")]:
            del st.session_state[name]  # the editor reloads its widgets from the new network
        st.session_state["arch_imported"] = record.key  # and the page summarises this upload too
        state.set_spec(fits)
        st.switch_page("pages/1_Architecture.py")

if record is not None:
    st.subheader("Input scaling")
    st.markdown(
        "The book divides pixels by 255; other notebooks feed raw 0–255 pixels or standardise them. "
        "The import measured the first 1,000 test digits under each convention and kept the most "
        "accurate one (the lower loss decides between near ties). Change it if you know better."
    )
    st.dataframe(imports.scaling_table(record), hide_index=True, column_config={
        "accuracy": st.column_config.NumberColumn(format="%.4f"),
        "loss": st.column_config.NumberColumn(format="%.3f")})
    names = list(SCALINGS)
    chosen = st.selectbox("Feed the model", names, index=names.index(record.imported.scaling),
                          format_func=lambda name: SCALINGS[name].label, key=f"scaling_{record.key[:12]}")
    if chosen != record.imported.scaling:
        with st.spinner("Measuring the test set with the new input scaling…"):
            record = rescale(record, chosen, cached.mnist(), ui_runs.model_cache())
        for cache_fn in (ui_runs.run_model, ui_runs.test_predictions, ui_maps.run_maps, ui_maps.imported_maps):
            cache_fn.clear()  # the wrapped model and its predictions depend on the scaling
        st.success(f"Now fed {SCALINGS[chosen].label}: test accuracy {record.test_accuracy:.2%}.", icon="✅")

imported_runs = [r for r in ui_runs.cached_runs() if r.is_imported]
if imported_runs:
    st.subheader(f"Imported runs on this server ({len(imported_runs)})")
    st.dataframe(
        [{"file": r.source_file, "test accuracy": r.test_accuracy, "params": r.params,
          "input": r.imported.scaling, "key": r.key[:12]} for r in imported_runs],
        hide_index=True,
        column_config={"test accuracy": st.column_config.NumberColumn(format="%.4f")},
    )
