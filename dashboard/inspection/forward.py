"""A run's network computed with numpy from its trained weights: every layer's output for a few digits.

Feature maps and Channels read one digit at a time, at every stroke of the pen. Keras gives the
same numbers, but loading a model and tracing its forward pass costs the server 100–200 ms of CPU
per run, and the first run a server shows imports TensorFlow (~3 s). With the weights as arrays
(`dashboard.modelfiles.weights`, ~3 ms) one digit takes a millisecond or two here. `tests/unit/test_forward.py`
checks every kind of layer against Keras.

The layers are those `build_model` makes from a `NetworkSpec` (`spec.chain`): Conv2D with ReLU,
BatchNormalization (inference: its moving statistics), 2×2 max or average pooling, Flatten or
GlobalAveragePooling2D, Dense with ReLU, Dropout (nothing at inference) and the softmax Dense.
`class_gradient` runs the layers after the last conv layer backwards, for Grad-CAM
(`dashboard.inspection.gradcam`). Imported models keep their Keras model: no spec describes their layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dashboard.modelfiles.weights import Weights, weight_shapes
from dashboard.network.convolution import padded
from dashboard.network.geometry import Layer
from dashboard.network.spec import INPUT_CHANNELS, INPUT_SIZE, MAP_KINDS, NetworkSpec, chain

BATCH_NORM_EPSILON = 1e-3  # Keras's default, which `build_model` keeps


def conv2d(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, stride: int, padding: str) -> np.ndarray:
    """ReLU(convolution + bias): x (n, h, w, c_in), kernel (k, k, c_in, f) → (n, h_out, w_out, f)."""
    k = kernel.shape[0]
    x, out_h, out_w = padded(x, k, stride, padding)
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))  # (n, H', W', c_in, k, k)
    windows = windows[:, ::stride, ::stride][:, :out_h, :out_w]
    z = np.tensordot(windows, kernel, axes=([4, 5, 3], [0, 1, 2]))  # (n, h_out, w_out, f)
    return np.maximum(z + bias, 0.0)


def pool2d(x: np.ndarray, kind: str) -> np.ndarray:
    """2×2 pooling with stride 2, 'valid' (an odd last row and column are dropped): (n, h, w, c) → (n, h//2, w//2, c)."""
    n, h, w, c = x.shape
    blocks = x[:, : h // 2 * 2, : w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, c)
    return blocks.max(axis=(2, 4)) if kind == "MaxPooling2D" else blocks.mean(axis=(2, 4))


def batch_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """Batch normalisation at inference, per channel (the last axis)."""
    return (x - mean) * (gamma / np.sqrt(variance + BATCH_NORM_EPSILON)) + beta


def softmax(z: np.ndarray) -> np.ndarray:
    """Probabilities over the last axis (shifted by the maximum, so large scores do not overflow)."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _apply(layer: Layer, x: np.ndarray, arrays: tuple[np.ndarray, ...], last: bool) -> np.ndarray:
    """One layer of `build_model`'s stack on a batch."""
    if layer.kind == "Conv2D":
        return conv2d(x, arrays[0], arrays[1], layer.strides[0], layer.padding)
    if layer.kind == "BatchNormalization":
        return batch_norm(x, *arrays)
    if layer.kind in ("MaxPooling2D", "AveragePooling2D"):
        return pool2d(x, layer.kind)
    if layer.kind == "Flatten":
        return x.reshape(len(x), -1)  # row-major over (h, w, c): Keras's channels-last order
    if layer.kind == "GlobalAveragePooling2D":
        return x.mean(axis=(1, 2))
    if layer.kind == "Dropout":
        return x
    if layer.kind == "Dense":
        z = x @ arrays[0] + arrays[1]
        return softmax(z) if last else np.maximum(z, 0.0)
    raise ValueError(f"a {layer.kind} layer is not part of the app's networks")


def _backward(layer: Layer, x: np.ndarray, grad: np.ndarray, arrays: tuple[np.ndarray, ...]) -> np.ndarray:
    """The gradient with respect to a head layer's input `x`, given the gradient `grad` at its output."""
    if layer.kind == "Dense":  # a hidden Dense: ReLU(x W + b)
        z = x @ arrays[0] + arrays[1]
        return (grad * (z > 0)) @ arrays[0].T
    if layer.kind == "Dropout":
        return grad
    if layer.kind == "Flatten":
        return grad.reshape(x.shape)
    if layer.kind == "GlobalAveragePooling2D":
        n, h, w, c = x.shape
        return np.broadcast_to(grad[:, None, None, :] / (h * w), x.shape)
    if layer.kind == "BatchNormalization":
        gamma, _, _, variance = arrays
        return grad * (gamma / np.sqrt(variance + BATCH_NORM_EPSILON))
    if layer.kind in ("MaxPooling2D", "AveragePooling2D"):
        n, h, w, c = x.shape
        blocks = x[:, : h // 2 * 2, : w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 5, 2, 4)
        blocks = blocks.reshape(n, h // 2, w // 2, c, 4)  # the four cells of each window
        if layer.kind == "MaxPooling2D":  # all of it to one largest cell (TensorFlow too routes to one)
            share = np.eye(4, dtype=grad.dtype)[blocks.argmax(axis=-1)]
        else:
            share = np.full(blocks.shape, 0.25, dtype=grad.dtype)
        spread = (share * grad[..., None]).reshape(n, h // 2, w // 2, c, 2, 2).transpose(0, 1, 4, 2, 5, 3)
        out = np.zeros(x.shape, dtype=grad.dtype)
        out[:, : h // 2 * 2, : w // 2 * 2] = spread.reshape(n, h // 2 * 2, w // 2 * 2, c)
        return out
    raise ValueError(f"no gradient through a {layer.kind} layer after the last conv layer")


@dataclass(frozen=True, eq=False)
class Network:
    """A trained network of the app as numpy arrays. Shared by every session: never mutate it."""

    spec: NetworkSpec
    weights: Weights  # layer name → arrays, as `dashboard.modelfiles.weights.read_weights` returns them

    def __post_init__(self) -> None:
        expected = weight_shapes(self.spec)
        found = {name: tuple(a.shape for a in arrays) for name, arrays in self.weights.items()}
        if found != expected:
            raise ValueError("the weights do not fit the network")

    def outputs(self, images: np.ndarray) -> list[tuple[Layer, np.ndarray]]:
        """Every layer's output (n, …) for images (n, 28, 28) or (n, 28, 28, 1) in [0, 1], in order."""
        x = np.asarray(images, dtype=np.float32).reshape(-1, INPUT_SIZE, INPUT_SIZE, INPUT_CHANNELS)
        layers = chain(self.spec)
        out = []
        for i, layer in enumerate(layers):
            x = _apply(layer, x, self.weights.get(layer.name, ()), last=i == len(layers) - 1).astype(np.float32, copy=False)
            out.append((layer, x))
        return out

    def maps_and_probs(self, images: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Like `model.forward_all`: ([maps (n, h, w, c) of every conv/pool layer], probabilities (n, 10))."""
        outputs = self.outputs(images)
        return [x for layer, x in outputs if layer.kind in MAP_KINDS], outputs[-1][1]

    def around(self, name: str, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(input, output) of layer `name` for images (n, 28, 28): the input is the previous layer's output."""
        before = np.asarray(images, dtype=np.float32).reshape(-1, INPUT_SIZE, INPUT_SIZE, INPUT_CHANNELS)
        for layer, x in self.outputs(images):
            if layer.name == name:
                return before, x
            before = x
        raise KeyError(f"the network has no layer {name}")

    def class_gradient(self, x: np.ndarray, class_index: int | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, str]:
        """For one input (1, 28, 28, 1): the last conv layer's output A (h, w, c), the gradient of the
        class's logit with respect to A (h, w, c), the logits (10,), the class (None: the predicted
        one) and the layer's name. The backward pass runs through the layers after A by hand."""
        layers = chain(self.spec)
        last_conv = max(i for i, layer in enumerate(layers) if layer.kind == "Conv2D")
        head_inputs = []  # (layer, its input) of every layer between A and the logits
        for i, layer in enumerate(layers[:-1]):
            if i > last_conv:
                head_inputs.append((layer, x))
            x = _apply(layer, x, self.weights.get(layer.name, ()), last=False)
            if i == last_conv:
                conv_output = x
        kernel, bias = self.weights[layers[-1].name]
        logits = (x @ kernel + bias)[0]  # (10,): the softmax Dense before its softmax
        if class_index is None:
            class_index = int(np.argmax(logits))
        grad = kernel[:, class_index][None, :]  # d logit / d features, (1, inputs)
        for layer, inputs in reversed(head_inputs):
            grad = _backward(layer, inputs, grad, self.weights.get(layer.name, ()))
        return conv_output[0], grad[0], logits, class_index, layers[last_conv].name

    def kernels(self) -> np.ndarray:
        """The first conv layer's weights (k, k, 1, filters)."""
        return self.weights[chain(self.spec)[0].name][0]
