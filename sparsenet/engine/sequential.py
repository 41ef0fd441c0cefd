"""Sequential: forward/backward over a list of layers, with one flat parameter buffer.

On construction every layer's parameters (and gradients) are copied into one flat buffer
and the layers' arrays become views into it, so one Adam kernel updates the whole network.
A layer belongs to the last container built over it.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from .layer import check_input


def flatten(layers, where: str = "network"):
    """Every layer's parameters and gradients copied into one flat buffer each, the layers' arrays made views
    into them (so one Adam updates them all). Returns (params, grads, slices by 'layerindex.name')."""
    entries = [(i, k, v) for i, layer in enumerate(layers) for k, v in layer.params.items()]
    devices = {layer.device for layer in layers if layer.params}
    if len(devices) > 1:
        raise ValueError(f"{where}: layers are on different devices; move them with .to(device) first")
    dtypes = {v.dtype for _, _, v in entries}
    if len(dtypes) > 1:
        raise ValueError(f"{where}: layers have different dtypes {sorted(map(str, dtypes))}")
    xp = backend.get_array_module(entries[0][2]) if entries else np
    dtype = entries[0][2].dtype if entries else np.float32
    total = sum(int(v.size) for _, _, v in entries)
    params = xp.empty(total, dtype=dtype)
    grads = xp.zeros(total, dtype=dtype)
    slices = {}
    offset = 0
    for i, k, v in entries:
        n = int(v.size)
        params[offset : offset + n] = v.ravel()
        layer = layers[i]
        layer.params[k] = params[offset : offset + n].reshape(v.shape)
        layer.grads[k] = grads[offset : offset + n].reshape(v.shape)
        slices[f"{i}.{k}"] = slice(offset, offset + n)
        offset += n
    return params, grads, slices


class Sequential:
    """Layers in order, with one flat parameter and gradient buffer (``params``, ``grads``).

    ``dtype`` (float32 or float64) converts every layer's parameters to it; without it the layers
    must already agree."""

    def __init__(self, layers, dtype=None):
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("Sequential: needs at least one layer")
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype not in (np.float32, np.float64):
                raise ValueError(f"Sequential: dtype must be float32 or float64, got {dtype}")
            for layer in self.layers:
                layer.set_dtype(dtype)
        for a, b in zip(self.layers, self.layers[1:], strict=False):
            if a.out_features is not None and b.in_features is not None and a.out_features != b.in_features:
                raise ValueError(
                    f"Sequential: {type(a).__name__} gives {a.out_features} features but the next "
                    f"{type(b).__name__} expects {b.in_features}"
                )
        self._flatten()

    def _flatten(self):
        self.params, self.grads, self.slices = flatten(self.layers, type(self).__name__)

    # ---------------------------------------------------------------- compute
    @property
    def in_features(self):
        return self.layers[0].in_features

    @property
    def out_features(self):
        return self.layers[-1].out_features

    @property
    def device(self) -> str:
        return "cpu" if backend.get_array_module(self.params) is np else "gpu"

    def forward(self, x, check: bool = True, stop: int | None = None):
        """Output of ``layers[:stop]`` (all by default). ``check=False`` skips the NaN/inf scan
        of ``x`` (for data validated once, when loaded)."""
        if check:
            x = check_input(x, self.in_features, "network input", self.params.dtype)
        else:
            if x.ndim != 2 or x.shape[1] != self.in_features:
                raise ValueError(f"network input: expected (batch, {self.in_features}), got {tuple(x.shape)}")
            x = backend.feature_major(x.astype(self.params.dtype, copy=False))
        for layer in self.layers[:stop]:
            x = layer._forward(x)
        return x

    __call__ = forward

    def backward(self, grad_out, want_input_grad: bool = False, stop: int | None = None):
        """Back-propagate through ``layers[:stop]`` (all by default; ``grad_out`` is the gradient
        of their output); fills every trainable layer's gradient (frozen ones get zeros)."""
        g = grad_out
        last = (len(self.layers) if stop is None else stop) - 1
        for i in range(last, -1, -1):
            layer = self.layers[i]
            if not layer.trainable:
                for v in layer.grads.values():
                    v[...] = 0
            g = layer.backward(g, want_input_grad=(i > 0 or want_input_grad))
            for name in layer.frozen:
                layer.grads[name][...] = 0
        return g

    # ---------------------------------------------------------------- state
    def _named_params(self) -> dict:
        """'layerindex.name' -> the layer's own parameter array. Read through the layers, not the
        flat buffer: a layer later put in another container is a view into that one's buffer."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params.items()}

    def state_dict(self) -> dict:
        """Plain NumPy copies of every parameter, keyed 'layerindex.name'."""
        return {name: backend.to_numpy(v).copy() for name, v in self._named_params().items()}

    def load_state_dict(self, state: dict):
        params = self._named_params()
        missing = set(params) - set(state)
        extra = set(state) - set(params)
        if missing or extra:
            raise ValueError(f"load_state_dict: missing {sorted(missing)}, unexpected {sorted(extra)}")
        for name, p in params.items():
            v = np.asarray(state[name])
            if v.size != p.size:
                raise ValueError(f"load_state_dict: {name} has {v.size} values, the network expects {p.size}")
            p[...] = backend.get_array_module(p).asarray(v.reshape(p.shape), dtype=p.dtype)

    def to(self, device: str):
        for layer in self.layers:
            layer.to(device)
        self._flatten()
        return self
