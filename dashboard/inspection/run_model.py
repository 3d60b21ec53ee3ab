"""What a page needs from a run, whichever engine computes it: the `RunModel` protocol.

A page asks a run's model for its layers' geometry (names, kinds, sizes, receptive fields), every
map layer's output and the prediction for a batch of digits, the class gradient behind Grad-CAM,
the final maps of a sample of test images and the head that reads them (projections, ablations),
and the conv layers whose channels it can draw. Every method takes the app's pixels ÷255: an
imported run's input scaling is applied inside. Pages, ui and charts never ask which engine they
have; `dashboard.inspection.run_factory.open_run(record, cache)` alone chooses one:

- numpy (`dashboard.inspection.numpy_run.NumpyRun`, over `dashboard.inspection.forward.Chain`): runs
  trained here, and imported chains whose every layer `dashboard.inspection.numpy_layers` computes.
  Their weights are read as arrays (`dashboard.modelfiles.weights`), so a server shows them
  without importing TensorFlow.
- Keras (`dashboard.inspection.keras_run.KerasRun`): what numpy does not cover (a branching model,
  a layer setting numpy does not compute), its model loaded on first use.

`tests/unit/test_run_model.py` holds the numpy engine to Keras, the oracle. Never imports Streamlit.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from dashboard.inspection import ablation, readings
from dashboard.inspection.ablation import Ablation, LinearHead
from dashboard.inspection.gradcam import GradCam, as_input, finish
from dashboard.network.spec import MAP_KINDS, LayerGeometry

BATCH_BYTES = 16 << 20  # one batch's activations through the conv layers (`final_maps`)
Gradient = tuple[np.ndarray, np.ndarray, np.ndarray, int, str]  # A (h, w, c), dlogit/dA (h, w, c), logits (10,), class, layer


class RunModel(ABC):
    """A run as the pages see it: its layers, and what they compute for digits. Shared by every session: never mutate it."""

    def __init__(self, key: str, cache_id: str, kinds: Sequence[str], layers: Sequence[LayerGeometry], chain: bool,
                 drawable: Collection[str] = ()) -> None:
        """Run `key`: its layers' kinds and geometry, whether they form a chain, the conv layers Channels can draw."""
        self.key = key  # the run's key in the cache
        self.cache_id = cache_id  # names what it computes in caches: the key, and an imported run's input scaling
        self.kinds = tuple(kinds)  # every layer's Keras class, in order
        self.layers = tuple(layers)  # the geometry of every layer whose receptive field is known, in order
        self.chain = chain  # one layer after another: maps follow it
        # Conv and pooling layers with positions on the digit: the rows of Feature maps.
        self.map_layers = tuple(g for g in self.layers if g.kind in MAP_KINDS and g.size is not None) if chain else ()
        # Conv layers whose channels the Channels page draws (a plain ReLU convolution it can animate).
        self.channel_layers = tuple(g for g in self.map_layers if g.kind == "Conv2D" and g.name in drawable)

    # --- what the layers are ---------------------------------------------------------------

    @property
    def last_conv(self) -> LayerGeometry | None:
        """The last Conv2D layer with positions (the book's conv2d_2), None without one."""
        return next((g for g in reversed(self.map_layers) if g.kind == "Conv2D"), None)

    @property
    def final_map(self) -> LayerGeometry | None:
        """The last conv or pooling layer: the map the head reads."""
        return self.map_layers[-1] if self.map_layers else None

    @property
    def flattened(self) -> bool:
        """True when the head reads every number of the final map (Flatten), not its average."""
        return "Flatten" in self.kinds

    @property
    def last_kind(self) -> str:
        """The Keras class of the last layer."""
        return self.kinds[-1]

    @property
    def explains(self) -> bool:
        """True when Grad-CAM applies: a conv layer, and a final Dense layer whose logits it scores."""
        return self.last_conv is not None and self.last_kind == "Dense"

    @property
    def without_maps(self) -> str | None:
        """Why the run has no feature maps to show, in words; None when it has them."""
        if not self.chain:
            return "A branching model: feature maps follow one chain of layers, so they are not shown"
        if self.last_conv is None:
            return "No conv layers (like the book's chapter-2 dense network): no feature maps to look at"
        return None

    def geometry_of(self, name: str) -> LayerGeometry:
        """The geometry of layer `name`; `KeyError` if it has none."""
        for g in self.layers:
            if g.name == name:
                return g
        raise KeyError(f"the run has no layer {name} with a known geometry")

    # --- what every engine computes ----------------------------------------------------------

    @abstractmethod
    def kernels(self) -> np.ndarray | None:
        """The first conv layer's weights (k, k, c_in, filters), None without a conv layer."""

    @abstractmethod
    def maps_and_probs(self, images: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """App images (n, 28, 28, 1) in [0, 1] → ([maps (n, h, w, c) of each map layer], probabilities (n, 10))."""

    @abstractmethod
    def predict_on_batch(self, images: np.ndarray) -> np.ndarray:
        """App images (n, 28, 28, 1) in [0, 1] → class probabilities (n, 10) (Keras's name for it)."""

    @abstractmethod
    def final_maps(self, images: np.ndarray) -> np.ndarray:
        """The final map of uint8 images (n, 28, 28): float32 (n, h, w, c), e.g. (n, 3, 3, 64)."""

    @abstractmethod
    def head(self, maps: np.ndarray) -> np.ndarray:
        """The layers after the final map run on maps (m, h, w, c): probabilities (m, 10)."""

    @abstractmethod
    def linear_head(self) -> LinearHead | None:
        """The head as reducer → Dense (fast ablations), None when it does not start that way."""

    @abstractmethod
    def class_gradient(self, x: np.ndarray, class_index: int | None = None) -> Gradient:
        """For one app input (1, 28, 28, 1): the last conv layer's output A, the gradient of the class's logit
        there, the logits, the class (None: the predicted one) and the layer's name."""

    @abstractmethod
    def around(self, name: str, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(input (h, w, c_in), output (h', w', c)) of channel layer `name` for one (28, 28) image."""

    @abstractmethod
    def conv_step(self, name: str) -> tuple[np.ndarray, np.ndarray, int, str]:
        """(kernel (k, k, c_in, f), bias (f,), stride, padding) of channel layer `name`."""

    @abstractmethod
    def atlas(self, name: str, images: np.ndarray) -> Any:  # -> dashboard.inspection.channel_atlas.Atlas
        """The channel atlas of channel layer `name` over uint8 `images` (n, 28, 28)."""

    # --- what follows from those -----------------------------------------------------------

    def read(self, image: np.ndarray) -> readings.Reading:
        """One forward pass of a (28, 28) image: probabilities and every map layer's maps."""
        names, kinds = tuple(g.name for g in self.map_layers), tuple(g.kind for g in self.map_layers)
        return readings.read_digit(self.maps_and_probs, names, kinds, image)

    def grad_cam(self, image: np.ndarray, class_index: int | None = None) -> GradCam:
        """Grad-CAM of one (28, 28) image (uint8 0–255 or float 0–1) on the last conv layer (class None: the predicted one)."""
        conv_output, grads, logits, class_index, layer_name = self.class_gradient(as_input(image), class_index)
        return finish(conv_output, grads, logits, class_index, self.layers, layer_name)

    def ablate(self, maps: np.ndarray, labels: np.ndarray) -> Ablation:
        """Position and channel ablations of final maps (n, h, w, c) with true `labels`."""
        return ablation.ablate(self.head, self.linear_head(), maps, labels)

    def batch_size(self) -> int:
        """Images per batch through the layers up to the final map: about `BATCH_BYTES` of activations."""
        stop = self.layers.index(self.final_map) if self.final_map in self.layers else len(self.layers) - 1
        per_image = 4 * sum((g.size or 1) ** 2 * g.channels for g in self.layers[: stop + 1] if g.size is not None)
        return int(np.clip(BATCH_BYTES // max(per_image, 1), 8, 128))
