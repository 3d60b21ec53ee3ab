"""Pure functions from numbers and arrays to plotly figures; nothing here reads files or state.

One module a topic: `architecture` (shapes, parameters, receptive fields), `training`
(curves, comparisons, confusion), `maps` (activations, kernels, probabilities), `inside`
(projections, ablations, Grad-CAM).
"""
