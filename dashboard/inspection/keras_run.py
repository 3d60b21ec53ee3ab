"""The Keras engine of `dashboard.inspection.run_model`: runs numpy does not compute, such as branching models.

`open_run` builds a `KerasRun` only for an imported model numpy does not cover; its Keras model
(`dashboard.store.imported.app_model`: the app's pixels ÷255 in, the model's own scaling inside) is
loaded on first use, so a page that only learns that a branching model has no maps never imports
TensorFlow. Its Channels view is empty (no conv layer it draws).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from dashboard.inspection.ablation import LinearHead
from dashboard.inspection.run_model import Gradient, RunModel
from dashboard.network.spec import LayerGeometry
from dashboard.store.run import RunRecord


class KerasRun(RunModel):
    """A run computed by its Keras model, loaded once on first use."""

    def __init__(self, record: RunRecord, cache: Any, cache_id: str, kinds: Sequence[str],
                 layers: Sequence[LayerGeometry]) -> None:
        """Run `record` of `cache` (its Keras model not loaded yet), its layers' kinds and geometry."""
        super().__init__(record.key, cache_id, kinds, layers, record.imported.chain)
        self._record, self._cache = record, cache
        self._lock = threading.Lock()
        self._model: Any = None
        self._maps_model: Any = None

    @property
    def model(self) -> Any:
        """The Keras model taking the app's input; raises `CacheError` if the entry is damaged."""
        with self._lock:
            if self._model is None:
                from dashboard.store.imported import app_model

                imported = self._record.imported
                self._model = app_model(self._cache.load_model(self.key), imported.input_shape, imported.scaling,
                                        imported.chain)
            return self._model

    def kernels(self) -> np.ndarray | None:
        """The first conv layer's weights (k, k, c_in, filters), None without a conv layer."""
        import keras

        first = next((layer for layer in self.model.layers if isinstance(layer, keras.layers.Conv2D)), None)
        return None if first is None else np.asarray(first.get_weights()[0])

    def maps_and_probs(self, images: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """App images (n, 28, 28, 1) in [0, 1] → ([maps (n, h, w, c) of each map layer], probabilities (n, 10))."""
        import keras

        from dashboard.training.model import forward_all

        model = self.model
        with self._lock:
            if self._maps_model is None:
                outputs = [model.get_layer(g.name).output for g in self.map_layers]
                self._maps_model = keras.Model(model.inputs[0], [*outputs, model.outputs[0]])
        return forward_all(self._maps_model, np.asarray(images, np.float32).reshape(-1, 28, 28, 1))

    def predict_on_batch(self, images: np.ndarray) -> np.ndarray:
        """App images (n, 28, 28, 1) in [0, 1] → class probabilities (n, 10)."""
        return np.asarray(self.model.predict_on_batch(images), dtype=np.float32)

    def final_maps(self, images: np.ndarray) -> np.ndarray:
        """The final map of uint8 images (n, 28, 28): float32 (n, h, w, c)."""
        from dashboard.inspection.analysis import final_map_features

        return final_map_features(self.model, images, self.final_map.name, self.batch_size())

    def head(self, maps: np.ndarray) -> np.ndarray:
        """The layers after the final map run on maps (m, h, w, c): probabilities (m, 10)."""
        from dashboard.inspection.analysis import layers_after, run_head

        return run_head(layers_after(self.model, self.final_map.name), maps)

    def linear_head(self) -> LinearHead | None:
        """The head as reducer → Dense, None when it does not start that way."""
        from dashboard.inspection.analysis import layers_after, linear_head

        return linear_head(layers_after(self.model, self.final_map.name))

    def class_gradient(self, x: np.ndarray, class_index: int | None = None) -> Gradient:
        """The last conv layer's output, the class's logit gradient there, the logits, the class, the layer (TensorFlow)."""
        from dashboard.inspection.analysis import class_gradient

        return class_gradient(self.model, x, class_index, self.last_conv.name)

    def around(self, name: str, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Not offered: the Keras engine draws no channel layer."""
        raise ValueError(f"layer {name} is not a channel layer of this run")

    def conv_step(self, name: str) -> tuple[np.ndarray, np.ndarray, int, str]:
        """Not offered: the Keras engine draws no channel layer."""
        raise ValueError(f"layer {name} is not a channel layer of this run")

    def atlas(self, name: str, images: np.ndarray) -> Any:
        """Not offered: the Keras engine draws no channel layer."""
        raise ValueError(f"layer {name} is not a channel layer of this run")
