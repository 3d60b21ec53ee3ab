"""A run's network computed with numpy from its trained weights: every layer's output for a few digits.

Feature maps and Channels read one digit at a time, at every stroke of the pen. Keras gives the
same numbers, but loading a model and tracing its forward pass costs the server 100–200 ms of CPU
per run, and the first run a server shows imports TensorFlow (~3 s). With the weights as arrays
(`dashboard.modelfiles.weights`, ~3 ms) one digit takes a millisecond or two here.

`Chain` computes any chain of the layers `dashboard.inspection.numpy_layers` knows, each read from
its Keras configuration: the networks `build_model` makes from a `NetworkSpec` (`Network`, whose
layers `spec_layers` writes as `build_model` configures them) and imported chains (their archive's
`config.json`), fed the app's pixels ÷255 and scaled inside as the imported model expects.
`class_gradient` runs the layers after the last conv layer backwards, for Grad-CAM
(`dashboard.inspection.gradcam`); `response_gradient` runs the layers before a conv layer
backwards, for the channel atlas's gradient ascent. `tests/unit/test_forward.py` and
`tests/unit/test_run_model.py` check them against Keras.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dashboard.inspection import numpy_layers
from dashboard.modelfiles.weights import Weights, weight_shapes
from dashboard.network.keras_layers import KerasLayer
from dashboard.network.spec import INPUT_CHANNELS, INPUT_SIZE, MAP_KINDS, NetworkSpec, chain

BATCH_NORM_EPSILON = 1e-3  # Keras's default, which `build_model` keeps
APP_INPUT = (INPUT_SIZE, INPUT_SIZE, INPUT_CHANNELS)


def conv2d(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, stride: int, padding: str) -> np.ndarray:
    """ReLU(convolution + bias): x (n, h, w, c_in), kernel (k, k, c_in, f) → (n, h_out, w_out, f)."""
    layer = KerasLayer("conv", "Conv2D", {"strides": stride, "padding": padding, "activation": "relu"})
    return numpy_layers.forward(layer, np.asarray(x, np.float32), (kernel, bias))


def pool2d(x: np.ndarray, kind: str) -> np.ndarray:
    """2×2 pooling with stride 2, 'valid' (an odd last row and column are dropped): (n, h, w, c) → (n, h//2, w//2, c)."""
    return numpy_layers.forward(KerasLayer("pool", kind, {"pool_size": 2}), np.asarray(x, np.float32), ())


def softmax(z: np.ndarray) -> np.ndarray:
    """Probabilities over the last axis (shifted by the maximum, so large scores do not overflow)."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def spec_layers(spec: NetworkSpec) -> tuple[KerasLayer, ...]:
    """The layers `build_model` makes from `spec`, as the Keras configurations it gives them."""
    layers = chain(spec)
    out = []
    for i, layer in enumerate(layers):
        config: dict = {}
        if layer.kind == "Conv2D":
            config = {"filters": layer.filters, "kernel_size": list(layer.kernel_size), "strides": list(layer.strides),
                      "padding": layer.padding, "activation": "relu"}
        elif layer.kind in ("MaxPooling2D", "AveragePooling2D"):
            config = {"pool_size": list(layer.pool_size), "strides": list(layer.strides), "padding": "valid"}
        elif layer.kind == "BatchNormalization":
            config = {"epsilon": BATCH_NORM_EPSILON}
        elif layer.kind == "Dense":
            config = {"units": layer.units, "activation": "softmax" if i == len(layers) - 1 else "relu"}
        out.append(KerasLayer(layer.name, layer.kind, config))
    return tuple(out)


class Chain:
    """A chain of Keras layers as numpy arrays, fed the app's input. Shared by every session: never mutate it."""

    def __init__(self, layers: Sequence[KerasLayer], weights: Weights, input_shape: tuple[int, ...] = APP_INPUT,
                 scale: float = 1.0, offset: float = 0.0) -> None:
        """`layers` (Keras configurations) with their `weights`, taking `input_shape` fed pixels/255 · scale + offset."""
        self.layers = tuple(layer for layer in layers if layer.kind != "InputLayer")
        unknown = [layer.name for layer in self.layers if not numpy_layers.supported(layer)]
        if unknown:
            raise ValueError(f"numpy does not compute the layers {unknown[:3]}")
        self.weights = weights  # layer name → arrays, in Keras's order
        self.input_shape = tuple(input_shape)  # what the model takes, without the batch axis
        self.scale, self.offset = float(scale), float(offset)  # the model sees pixels/255 · scale + offset

    def arrays(self, layer: KerasLayer) -> tuple[np.ndarray, ...]:
        """The layer's weights, () for a layer without any."""
        return tuple(self.weights.get(layer.name, ()))

    def model_input(self, images: np.ndarray) -> np.ndarray:
        """App images (n, 28, 28) or (n, 28, 28, 1) in [0, 1] → what the model takes, (n, *input_shape) float32."""
        x = np.asarray(images, dtype=np.float32).reshape(-1, INPUT_SIZE * INPUT_SIZE)
        if (self.scale, self.offset) != (1.0, 0.0):
            x = x * np.float32(self.scale) + np.float32(self.offset)
        return x.reshape(len(x), *self.input_shape)

    def outputs(self, images: np.ndarray) -> list[tuple[KerasLayer, np.ndarray]]:
        """Every layer's output (n, …) for app images (n, 28, 28[, 1]) in [0, 1], in order."""
        x = self.model_input(images)
        out = []
        for layer in self.layers:
            x = numpy_layers.forward(layer, x, self.arrays(layer))
            out.append((layer, x))
        return out

    def maps_and_probs(self, images: np.ndarray, names: Sequence[str] | None = None
                       ) -> tuple[list[np.ndarray], np.ndarray]:
        """([maps (n, h, w, c) of the layers `names`, default every conv/pool layer], probabilities (n, 10))."""
        outputs = self.outputs(images)
        wanted = [layer.name for layer, x in outputs if layer.kind in MAP_KINDS] if names is None else list(names)
        by_name = {layer.name: x for layer, x in outputs}
        return [by_name[name] for name in wanted], outputs[-1][1]

    def predict_on_batch(self, images: np.ndarray) -> np.ndarray:
        """The class probabilities (n, 10) of app images (n, 28, 28, 1) in [0, 1]."""
        x = self.model_input(images)
        for layer in self.layers:
            x = numpy_layers.forward(layer, x, self.arrays(layer))
        return x

    def index(self, name: str) -> int:
        """The position of layer `name` in the chain; `KeyError` if it has none."""
        for i, layer in enumerate(self.layers):
            if layer.name == name:
                return i
        raise KeyError(f"the network has no layer {name}")

    def until(self, name: str, images: np.ndarray) -> np.ndarray:
        """The output of layer `name` for app images (n, 28, 28[, 1]): the layers after it are not run."""
        x = self.model_input(images)
        for layer in self.layers[: self.index(name) + 1]:
            x = numpy_layers.forward(layer, x, self.arrays(layer))
        return x

    def after(self, name: str, x: np.ndarray) -> np.ndarray:
        """The layers after `name` run on its output x (n, …): the head from there on."""
        for layer in self.layers[self.index(name) + 1:]:
            x = numpy_layers.forward(layer, x, self.arrays(layer))
        return x

    def around(self, name: str, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(input, output) of layer `name` for images (n, 28, 28): the input is the previous layer's output."""
        stop = self.index(name)
        before = self.model_input(images)
        for layer in self.layers[:stop]:
            before = numpy_layers.forward(layer, before, self.arrays(layer))
        return before, numpy_layers.forward(self.layers[stop], before, self.arrays(self.layers[stop]))

    def class_gradient(self, x: np.ndarray, class_index: int | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, str]:
        """For one app input (1, 28, 28, 1): the last conv layer's output A (h, w, c), the gradient of the
        class's logit with respect to A (h, w, c), the logits (10,), the class (None: the predicted
        one) and the layer's name. The backward pass runs through the layers after A by hand."""
        last_conv = max(i for i, layer in enumerate(self.layers) if layer.kind == "Conv2D")
        final = self.layers[-1]
        if final.kind != "Dense":
            raise ValueError("Grad-CAM needs a model that ends in a Dense layer")
        h = self.model_input(x)
        head_inputs = []  # (layer, its input) of every layer between A and the logits
        for i, layer in enumerate(self.layers[:-1]):
            if i > last_conv:
                head_inputs.append((layer, h))
            h = numpy_layers.forward(layer, h, self.arrays(layer))
            if i == last_conv:
                conv_output = h
        kernel = self.arrays(final)[0]
        logits = numpy_layers.pre_activation(final, h, self.arrays(final))[0]  # (10,): before the softmax
        if class_index is None:
            class_index = int(np.argmax(logits))
        grad = kernel[:, class_index][None, :]  # d logit / d features, (1, inputs)
        for layer, inputs in reversed(head_inputs):
            grad = numpy_layers.backward(layer, inputs, grad, self.arrays(layer))
        return conv_output[0], grad[0], logits, class_index, self.layers[last_conv].name

    def response_gradient(self, name: str, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For app images (c, 28, 28, 1), one per channel of conv layer `name`: each image's channel's mean
        response before the activation (c,), and its gradient with respect to the image (c, 28, 28, 1)."""
        stop = self.index(name)
        inputs = []  # (layer, its input, what it computed before its activation) of every layer before the conv layer
        h = self.model_input(images)
        for layer in self.layers[:stop]:
            z = numpy_layers.pre_activation(layer, h, self.arrays(layer))
            inputs.append((layer, h, z))
            h = np.asarray(numpy_layers.activate(layer, z), dtype=np.float32)
        conv = self.layers[stop]
        z = numpy_layers.conv_response(conv, h, self.arrays(conv))  # (c, h_out, w_out, c)
        channels = np.arange(len(z))
        means = z[channels, :, :, channels].mean(axis=(1, 2))  # image i scores channel i
        grad = np.zeros_like(z)
        grad[channels, :, :, channels] = 1.0 / (z.shape[1] * z.shape[2])
        grad = numpy_layers.backward(KerasLayer(conv.name, "Conv2D", {**conv.config, "activation": "linear"}),
                                     h, grad, self.arrays(conv))
        for layer, x, z in reversed(inputs):
            grad = numpy_layers.backward(layer, x, grad, self.arrays(layer), z)
        grad = grad.reshape(len(z), -1) * np.float32(self.scale)  # through the input scaling
        return means.astype(np.float32), grad.reshape(len(z), INPUT_SIZE, INPUT_SIZE, INPUT_CHANNELS)

    def kernels(self) -> np.ndarray | None:
        """The first conv layer's weights (k, k, c_in, filters), None without a conv layer."""
        first = next((layer for layer in self.layers if layer.kind == "Conv2D"), None)
        return None if first is None else self.arrays(first)[0]


class Network(Chain):
    """A trained network of the app as numpy arrays. Shared by every session: never mutate it."""

    def __init__(self, spec: NetworkSpec, weights: Weights) -> None:
        """The network `spec` with its `weights`; `ValueError` if they do not fit it."""
        expected = weight_shapes(spec)
        found = {name: tuple(a.shape for a in arrays) for name, arrays in weights.items()}
        if found != expected:
            raise ValueError("the weights do not fit the network")
        super().__init__(spec_layers(spec), weights)
        self.spec = spec
