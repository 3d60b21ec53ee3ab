"""Pure functions from numbers and arrays to plotly figures; nothing here reads files or state.

One module a topic: `architecture` (shapes, parameters, receptive fields), `training`
(curves, comparisons, confusion), `maps` (activations, kernels, probabilities), `inside`
(projections, ablations, Grad-CAM), `atlas` (what channels look for), `numbers` (accuracy
against the last map's size), `shape` and `conv_animation` (a kernel on its input), and
`tiles`, the one image tiler they share.
"""

# Okabe and Ito's colour-blind-safe categorical palette (black, last in theirs, replaced by grey:
# it vanishes on the dark theme). `.streamlit/config.toml` gives Streamlit the same colours
# (`chartCategoricalColors`) for every chart drawn in its theme; charts that colour categories
# themselves take them from here.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
