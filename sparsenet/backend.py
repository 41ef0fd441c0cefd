"""Array backend: NumPy (+ Numba kernels) on CPU, CuPy (+ CUDA RawKernels) on GPU.

The device is chosen once per network (``cpu``, ``gpu`` or ``auto``); every op then picks
``xp`` from the arrays it is given, so the CPU and GPU share one code path where they can.

Layout: the engine's activations have the public shape ``(batch, features)`` but are stored
feature-major (Fortran order), so ``x.T`` is a C-contiguous ``(features, batch)`` array.
Kernels then walk the batch contiguously: SIMD lanes on the CPU, coalesced threads on the GPU.
Inputs in any other layout are accepted and converted once (:func:`feature_major`).
"""
from __future__ import annotations

import numpy as np

DEVICES = ("cpu", "gpu", "auto")
_cupy = None
_cupy_checked = False


def cupy_or_none():
    """CuPy if it imports and sees at least one CUDA device, else None."""
    global _cupy, _cupy_checked
    if not _cupy_checked:
        _cupy_checked = True
        try:
            import cupy

            if cupy.cuda.runtime.getDeviceCount() > 0:
                _cupy = cupy
        except Exception:  # no CuPy, no driver, no device: the CPU path serves
            _cupy = None
    return _cupy


def resolve_device(device: str = "auto") -> str:
    """Map ``cpu``/``gpu``/``auto`` to the device that will run: ``cpu`` or ``gpu``."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "cpu":
        return "cpu"
    has_gpu = cupy_or_none() is not None
    if device == "gpu" and not has_gpu:
        raise ValueError("device 'gpu' asked for, but CuPy is not installed or sees no CUDA device; "
                         "use --device cpu or install the [gpu] extra")
    return "gpu" if has_gpu else "cpu"


def xp_for(device: str):
    """The array module (numpy or cupy) of a resolved device."""
    return cupy_or_none() if device == "gpu" else np


def get_array_module(a):
    """numpy or cupy, whichever owns array ``a``."""
    cp = cupy_or_none()
    if cp is not None and isinstance(a, cp.ndarray):
        return cp
    return np


def to_device(a, device: str, dtype=np.float32):
    """Copy/convert ``a`` onto ``device`` with ``dtype``."""
    xp = xp_for(device)
    return xp.asarray(a, dtype=dtype)


def to_numpy(a) -> np.ndarray:
    """A NumPy copy (or view) of a NumPy or CuPy array."""
    if get_array_module(a) is np:
        return a
    return a.get()


def feature_major(x):
    """Return ``x`` (batch, features) stored feature-major; no copy if it already is."""
    xp = get_array_module(x)
    if x.ndim == 2 and x.T.flags.c_contiguous:
        return x
    return xp.asfortranarray(x)


def empty_feature_major(xp, batch: int, features: int, dtype=np.float32):
    """A new (batch, features) array stored feature-major."""
    return xp.empty((features, batch), dtype=dtype).T
