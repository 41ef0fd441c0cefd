"""Array backend: NumPy (+ Numba kernels) on CPU, CuPy (+ CUDA RawKernels) on GPU.

The device is chosen once per network (``cpu``, ``gpu`` or ``auto``); every op then picks
``xp`` from the arrays it is given, so the CPU and GPU share one code path where they can.

Layout: the engine's activations have the public shape ``(batch, features)`` but are stored
feature-major (Fortran order), so ``x.T`` is a C-contiguous ``(features, batch)`` array.
Kernels then walk the batch contiguously: SIMD lanes on the CPU, coalesced threads on the GPU.
Inputs in any other layout are accepted and converted once (:func:`feature_major`).
"""

from __future__ import annotations

import sys

import numpy as np

from .allowed import one_of

DEVICES = ("cpu", "gpu", "auto")
_cupy = None
_cupy_checked = False
_gpu_problem = None  # why the GPU cannot be used, once probed

# A kernel compiled and run before the GPU is chosen: a driver and a device are not enough,
# CuPy also needs NVRTC to compile the engine's kernels.
_PROBE = r"""
extern "C" __global__ void sparsenet_probe(float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = 2.0f * i + 1.0f;
}
"""


def _probe_gpu():
    """(cupy, None) if CuPy imports, sees a device and compiles and runs a kernel; else (None, why)."""
    try:
        import cupy
    except Exception as e:
        return None, f"CuPy is not installed ({type(e).__name__}); install the [gpu] extra"
    try:
        if cupy.cuda.runtime.getDeviceCount() == 0:
            return None, "CuPy sees no CUDA device"
    except Exception as e:
        return None, f"CuPy finds no CUDA driver or device ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
    try:
        out = cupy.zeros(64, dtype=cupy.float32)
        kernel = cupy.RawModule(code=_PROBE, options=("--std=c++14",)).get_function("sparsenet_probe")
        kernel((1,), (64,), (out, np.int32(64)))
        ok = bool((cupy.asnumpy(out) == 2 * np.arange(64) + 1).all())
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return None, (
            f"a CUDA device is present but a test kernel did not compile or run ({type(e).__name__}: "
            f"{first[:160]}); install CuPy with its CUDA compiler: pip install 'cupy-cuda13x[ctk]'"
        )
    if not ok:
        return None, "a CUDA device is present but a test kernel gave wrong results"
    return cupy, None


def cupy_or_none():
    """CuPy if it imports, sees a CUDA device and compiles and runs a test kernel, else None."""
    global _cupy, _cupy_checked, _gpu_problem
    if not _cupy_checked:
        _cupy_checked = True
        _cupy, _gpu_problem = _probe_gpu()
    return _cupy


def gpu_problem():
    """Why the GPU is not used (None when it is usable)."""
    cupy_or_none()
    return _gpu_problem


_told = False


def resolve_device(device: str = "auto") -> str:
    """Map ``cpu``/``gpu``/``auto`` to the device that will run: ``cpu`` or ``gpu``.

    ``auto`` uses the GPU only after a test kernel compiled and ran on it; when CuPy is installed
    but unusable it says why on stderr, once, and uses the CPU."""
    global _told
    one_of("device", device, DEVICES)
    if device == "cpu":
        return "cpu"
    has_gpu = cupy_or_none() is not None
    if device == "gpu" and not has_gpu:
        raise ValueError(f"device 'gpu' asked for, but {gpu_problem()}; use --device cpu")
    if not has_gpu and not _told and not gpu_problem().startswith("CuPy is not installed"):
        _told = True
        print(f"sparsenet: running on the CPU: {gpu_problem()}", file=sys.stderr)
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
