"""The numpy engine of `dashboard.inspection.run_model`: a run computed from its weights as arrays, no Keras.

`NumpyRun` serves runs trained here and imported chains whose every layer
`dashboard.inspection.numpy_layers` computes (`dashboard.inspection.run_factory.open_run` decides),
over a `dashboard.inspection.forward.Chain`. Its Grad-CAM runs the head backwards by hand, its
channel atlas climbs the gradient by hand. Pure numpy: imports neither TensorFlow nor Streamlit.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np

from dashboard.inspection import numpy_layers
from dashboard.inspection.ablation import LinearHead
from dashboard.inspection.forward import Chain
from dashboard.inspection.run_model import Gradient, RunModel
from dashboard.mnist.data import to_model_input
from dashboard.network.keras_layers import KerasLayer
from dashboard.network.spec import LayerGeometry


class _Body:
    """A numpy network cut at a layer, read as Keras's `predict_on_batch` (the atlas's search calls it)."""

    def __init__(self, chain: Chain, name: str) -> None:
        """The body of `chain` up to layer `name`."""
        self.chain, self.name = chain, name

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        """The layer's output (b, h, w, c) for inputs x (b, 28, 28, 1)."""
        return self.chain.until(self.name, x)


class NumpyRun(RunModel):
    """A run computed with numpy from its weights (`dashboard.inspection.forward.Chain`): no Keras."""

    def __init__(self, key: str, cache_id: str, kinds: Sequence[str], layers: Sequence[LayerGeometry],
                 network: Chain) -> None:
        """Run `key` computed by `network`, its layers' kinds and geometry as the record gives them."""
        super().__init__(key, cache_id, kinds, layers, True, drawable_convs(network.layers))
        self.network = network

    def kernels(self) -> np.ndarray | None:
        """The first conv layer's weights (k, k, c_in, filters), None without a conv layer."""
        return self.network.kernels()

    def maps_and_probs(self, images: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """App images (n, 28, 28, 1) in [0, 1] → ([maps (n, h, w, c) of each map layer], probabilities (n, 10))."""
        return self.network.maps_and_probs(images, [g.name for g in self.map_layers])

    def predict_on_batch(self, images: np.ndarray) -> np.ndarray:
        """App images (n, 28, 28, 1) in [0, 1] → class probabilities (n, 10)."""
        return self.network.predict_on_batch(images)

    def final_maps(self, images: np.ndarray) -> np.ndarray:
        """The final map of uint8 images (n, 28, 28): float32 (n, h, w, c), written in place batch by batch."""
        name, size = self.final_map.name, self.batch_size()
        first = self.network.until(name, to_model_input(images[:1]))
        out = np.empty((len(images), *first.shape[1:]), dtype=np.float32)
        for i in range(0, len(images), size):
            out[i : i + size] = self.network.until(name, to_model_input(images[i : i + size]))
        return out

    def head(self, maps: np.ndarray) -> np.ndarray:
        """The layers after the final map run on maps (m, h, w, c): probabilities (m, 10)."""
        return self.network.after(self.final_map.name, np.asarray(maps, dtype=np.float32))

    def linear_head(self) -> LinearHead | None:
        """The head as reducer → Dense, its remaining layers run by numpy; None when it does not start that way."""
        layers = self.network.layers
        rest = list(layers[self.network.index(self.final_map.name) + 1:])
        if len(rest) < 2 or rest[1].kind != "Dense" or rest[0].kind not in ("Flatten", "GlobalAveragePooling2D") \
                or rest[0].config.get("keepdims"):
            return None
        dense, after = rest[1], rest[2:]
        arrays = self.network.arrays(dense)
        bias = arrays[1] if len(arrays) > 1 else np.zeros(arrays[0].shape[1], np.float32)

        def finish(z: np.ndarray) -> np.ndarray:
            """Predicted classes (m,) from the first Dense's pre-activation z (m, units)."""
            out = numpy_layers.activate(dense, z)
            for layer in after:
                out = numpy_layers.forward(layer, out, self.network.arrays(layer))
            return np.asarray(out).argmax(axis=1)

        return LinearHead(rest[0].kind, arrays[0], bias, finish)

    def class_gradient(self, x: np.ndarray, class_index: int | None = None) -> Gradient:
        """The last conv layer's output, the class's logit gradient there, the logits, the class, the layer (by hand)."""
        return self.network.class_gradient(x, class_index)

    def around(self, name: str, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(input (h, w, c_in), output (h', w', c)) of layer `name` for one (28, 28) image."""
        before, after = self.network.around(name, image)
        return before[0], after[0]

    def conv_step(self, name: str) -> tuple[np.ndarray, np.ndarray, int, str]:
        """(kernel (k, k, c_in, f), bias (f,), stride, padding) of conv layer `name`."""
        layer = self.network.layers[self.network.index(name)]
        arrays = self.network.arrays(layer)
        bias = arrays[1] if len(arrays) > 1 else np.zeros(arrays[0].shape[-1], np.float32)
        strides = layer.config.get("strides", 1)
        return arrays[0], bias, int(strides if isinstance(strides, int) else strides[0]), layer.config.get("padding", "valid")

    def atlas(self, name: str, images: np.ndarray) -> Any:
        """Top windows and gradient-ascent patterns of conv layer `name`, computed with numpy."""
        from dashboard.inspection.channel_atlas import ascend, atlas_of

        geo = self.geometry_of(name)
        patterns = ascend(partial(self.network.response_gradient, name), geo.channels)
        return atlas_of(_Body(self.network, name), patterns, geo, images)


def drawable_convs(layers: Sequence[KerasLayer]) -> set[str]:
    """Names of the conv layers the Channels page can draw and animate: square, ReLU, no dilation, no groups."""
    def square(value: Any) -> bool:
        """True for a size that is the same both ways."""
        return isinstance(value, int) or len(set(value)) == 1

    return {layer.name for layer in layers if layer.kind == "Conv2D" and layer.config.get("activation") == "relu"
            and square(layer.config.get("kernel_size", 1)) and square(layer.config.get("strides", 1))
            and layer.config.get("dilation_rate", 1) in (1, [1, 1], (1, 1)) and int(layer.config.get("groups", 1)) == 1}
