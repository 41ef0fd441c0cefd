"""What every layer shares: named parameters and gradients, input checks, device moves.

The contract a layer (the engine's or a user's) keeps:

* ``params`` and ``grads``: dicts name -> array, the same shapes; ``_new_grads()`` makes the
  gradients once the parameters exist. ``Sequential`` replaces both by views into its flat
  buffers, so a layer must write into them in place (``grads[k][...] = ...``), never rebind them.
* ``in_features`` / ``out_features``: ints, or None for elementwise layers.
* ``_forward(x)``: x is (batch, features), already checked; keep what backward needs; return
  the output. ``forward(x)`` (public) checks x, then calls ``_forward``.
* ``backward(grad_out, want_input_grad=True)``: *fill* (overwrite) ``grads`` for the last
  ``_forward``'s input and return the gradient of that input (None when not wanted).
* ``trainable = False`` skips the parameter gradients (left at zero); ``frozen`` names single
  parameters held fixed. Containers call ``_forward`` after checking the network input once.
"""

from __future__ import annotations

import numpy as np

from .. import backend


class Layer:
    trainable: bool = True

    def __init__(self):
        self.params: dict = {}
        self.grads: dict = {}
        self.frozen: set = set()  # names of single parameters held fixed (their gradient is zero)

    # ---------------------------------------------------------------- interface
    @property
    def in_features(self) -> int:
        raise NotImplementedError

    @property
    def out_features(self) -> int:
        raise NotImplementedError

    def forward(self, x):
        return self._forward(check_input(x, self.in_features, type(self).__name__, self.dtype))

    def backward(self, grad_out):
        raise NotImplementedError

    def _forward(self, x):
        raise NotImplementedError

    # ---------------------------------------------------------------- helpers
    @property
    def dtype(self):
        for p in self.params.values():
            return p.dtype
        return np.dtype(np.float32)

    @property
    def device(self) -> str:
        for p in self.params.values():
            return "cpu" if backend.get_array_module(p) is np else "gpu"
        return "cpu"

    def _new_grads(self):
        if not self.params:
            return
        xp = backend.get_array_module(next(iter(self.params.values())))
        self.grads = {k: xp.zeros_like(v) for k, v in self.params.items()}

    def to(self, device: str):
        """Move parameters (and any index arrays) to ``device`` ('cpu' or 'gpu')."""
        device = backend.resolve_device(device)
        xp = backend.xp_for(device)
        for k, v in list(self.params.items()):
            self.params[k] = xp.asarray(backend.to_numpy(v) if device == "cpu" else v)
        self._move_buffers(xp)
        self._new_grads()
        return self

    def _move_buffers(self, xp):
        """Move non-parameter arrays (index structures); layers that have some override."""

    def set_dtype(self, dtype):
        """Convert the parameters (and gradients) to ``dtype``, in place on their device."""
        xp = backend.get_array_module(next(iter(self.params.values()))) if self.params else np
        for k, v in list(self.params.items()):
            self.params[k] = v.astype(dtype)
        self._new_grads()
        if hasattr(self, "_empty"):
            self._empty = xp.zeros(0, dtype=dtype)
        return self


def check_input(x, n_features: int, where: str, dtype):
    """Validate a (batch, features) input; return it as ``dtype``, feature-major.

    Raises ValueError naming the problem: wrong rank, feature count, dtype, NaN/inf.
    """
    xp = backend.get_array_module(x)
    if not hasattr(x, "ndim"):
        x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{where}: input must be 2-D (batch, features), got shape {tuple(x.shape)}")
    if n_features is not None and x.shape[1] != n_features:
        raise ValueError(f"{where}: input has {x.shape[1]} features but the layer expects {n_features}")
    if x.shape[0] == 0:
        raise ValueError(f"{where}: input has no samples (batch size 0)")
    if x.dtype.kind != "f":
        raise ValueError(f"{where}: input dtype must be floating point (float32/float64), got {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        x = x.astype(dtype)
    x = cpu_feature_major(x) if xp is np else backend.feature_major(x)
    if not all_finite(x):
        raise ValueError(f"{where}: input contains NaN or infinite values; clean or impute them first")
    return x


def cpu_feature_major(x: np.ndarray) -> np.ndarray:
    """Feature-major copy of a NumPy array using the blocked, threaded transpose kernel."""
    if x.T.flags.c_contiguous:
        return x
    from . import cpu_kernels

    src = np.ascontiguousarray(x)
    outT = np.empty((x.shape[1], x.shape[0]), dtype=x.dtype)
    cpu_kernels.transpose(src, outT)
    return outT.T


def all_finite(x) -> bool:
    xp = backend.get_array_module(x)
    if xp is np:
        from . import cpu_kernels

        xT = x.T if x.T.flags.c_contiguous else np.ascontiguousarray(x)
        ok = np.empty(xT.shape[0], dtype=np.bool_)
        cpu_kernels.all_finite_rows(xT, ok)
        return bool(ok.all())
    return bool(xp.isfinite(x).all())


def rows_view(a):
    """A C-contiguous 2-D view of an elementwise operand and whether it is transposed."""
    if a.flags.c_contiguous:
        return a, False
    if a.T.flags.c_contiguous:
        return a.T, True
    xp = backend.get_array_module(a)
    return xp.ascontiguousarray(a), False
