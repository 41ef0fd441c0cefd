"""Just enough of CuPy for the engine's GPU path to run on the CPU, kernels through the emulator.

Device arrays are a NumPy subclass (``ndarray``); the stand-in refuses what CuPy refuses
(mixing host and device arrays in one operation) and ``RawModule`` compiles the real ``.cu``
source with the emulator. ``install()`` makes ``import cupy`` and the engine's backend use it.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np

from .emulator import Module


class ndarray(np.ndarray):
    """A 'device' array: NumPy memory, CuPy's surface (``get``, ``set``)."""

    def get(self, stream=None, out=None):
        host = np.array(self.view(np.ndarray), copy=True)
        if out is not None:
            out[...] = host
            return out
        return host

    def set(self, arr, stream=None):
        _refuse_device(arr, "set")
        self.view(np.ndarray)[...] = arr

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out")
        _refuse_host(inputs + (out or ()), ufunc.__name__)
        inputs = tuple(_host_view(x) for x in inputs)
        if out is not None:
            kwargs["out"] = tuple(_host_view(o) for o in out)
        result = getattr(ufunc, method)(*inputs, **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, types_, args, kwargs):
        _refuse_host(tuple(args) + tuple(kwargs.values()), func.__name__)
        return _wrap(func(*_host_views(args), **{k: _host_views(v) for k, v in kwargs.items()}))

    def __float__(self):
        return float(self.view(np.ndarray))

    def __iter__(self):
        raise TypeError("iterating a device array element by element is what CuPy users avoid; the stand-in refuses it")


def _host_view(x):
    return x.view(np.ndarray) if isinstance(x, ndarray) else x


def _host_views(x):
    if isinstance(x, (list, tuple)):
        return type(x)(_host_views(v) for v in x)
    return _host_view(x)


def _wrap(result):
    if isinstance(result, tuple):
        return tuple(_wrap(r) for r in result)
    if isinstance(result, np.ndarray) and not isinstance(result, ndarray):
        return result.view(ndarray)
    if isinstance(result, np.generic):
        return np.asarray(result).view(ndarray)  # CuPy reductions give 0-d device arrays
    return result


def _refuse_host(values, what):
    for v in values:
        if isinstance(v, (list, tuple)):
            _refuse_host(v, what)
        elif isinstance(v, np.ndarray) and not isinstance(v, ndarray) and v.ndim > 0:
            raise TypeError(
                f"{what}: a host NumPy array mixed with device arrays (CuPy refuses this: "
                f"copy it with cupy.asarray first)"
            )


def _refuse_device(v, what):
    if isinstance(v, ndarray):
        raise TypeError(f"{what}: expected a host array")


# ---------------------------------------------------------------- the module's functions
def asarray(a, dtype=None, order=None):
    if isinstance(a, ndarray) and (dtype is None or a.dtype == np.dtype(dtype)) and order is None:
        return a
    return np.array(_host_view(a), dtype=dtype, order=order or "K", copy=True).view(ndarray)


def array(a, dtype=None, copy=True, order="K"):
    return np.array(_host_view(a), dtype=dtype, order=order, copy=True).view(ndarray)


def asnumpy(a, stream=None):
    return a.get() if isinstance(a, ndarray) else np.asarray(a)


def _creation(fn):
    def create(*args, **kwargs):
        return fn(*_host_views(args), **kwargs).view(ndarray)

    create.__name__ = fn.__name__
    return create


_CREATION = (
    "empty",
    "zeros",
    "ones",
    "full",
    "empty_like",
    "zeros_like",
    "ones_like",
    "full_like",
    "arange",
    "ascontiguousarray",
    "asfortranarray",
    "linspace",
    "eye",
)


class RawModule:
    """Compiles ``code`` with the emulator (of NVRTC's ``options`` only include directories apply)."""

    def __init__(self, code=None, path=None, options=(), backend="nvrtc", name_expressions=None):
        if code is None:
            code = Path(path).read_text()
        self.code, self.options = code, tuple(options)
        # include directories (-I) apply on the CPU too; the other NVRTC options do not
        self.module = Module(code, extra_flags=[o for o in self.options if o.startswith("-I")])

    def get_function(self, name):
        return RawKernel(self, name)


class RawKernel:
    def __init__(self, module, name):
        if name not in module.module.kernels:
            raise AttributeError(f"no kernel named {name!r} in the module")
        self.module, self.name = module, name

    def __call__(self, grid, block, args, shared_mem=0, stream=None):
        self.module.module.launch(self.name, grid, block, args, shared_mem=shared_mem)


def _cuda_namespace():
    runtime = types.SimpleNamespace(
        getDeviceCount=lambda: 1,
        getDeviceProperties=lambda i=0: {"name": b"CUDA emulator (CPU)", "multiProcessorCount": 1},
    )

    class Device:
        def __init__(self, i=0):
            self.id = i

        def synchronize(self):
            pass

    class Event:
        def record(self, stream=None):
            pass

        def synchronize(self):
            pass

    return types.SimpleNamespace(runtime=runtime, Device=Device, Event=Event, get_elapsed_time=lambda a, b: 0.0)


def make_module() -> types.ModuleType:
    """A fresh module object named ``cupy``."""
    mod = types.ModuleType("cupy")
    mod.__doc__ = __doc__
    mod.__file__ = __file__
    mod.ndarray = ndarray
    mod.asarray, mod.array, mod.asnumpy = asarray, array, asnumpy
    for name in _CREATION:
        setattr(mod, name, _creation(getattr(np, name)))
    mod.RawModule, mod.RawKernel = RawModule, RawKernel
    mod.cuda = _cuda_namespace()
    mod.is_emulator = True

    def __getattr__(name):
        obj = getattr(np, name)  # dtypes, constants and every other function: NumPy's, on device arrays
        if isinstance(obj, type) or not callable(obj):
            return obj

        def on_device(*args, **kwargs):
            _refuse_host(tuple(args) + tuple(kwargs.values()), name)
            return _wrap(obj(*_host_views(args), **{k: _host_views(v) for k, v in kwargs.items()}))

        on_device.__name__ = name
        return on_device

    mod.__getattr__ = __getattr__
    return mod


class install:
    """Context manager (or plain call + ``uninstall()``): ``import cupy`` and the engine's backend
    give the stand-in; the engine's CUDA launchers are re-imported against it."""

    def __init__(self):
        from sparsenet import backend

        self.backend = backend
        self.saved = (
            sys.modules.get("cupy"),
            backend._cupy,
            backend._cupy_checked,
            backend._gpu_problem,
            sys.modules.get("sparsenet.engine.cuda.launch"),
        )
        self.module = make_module()
        sys.modules["cupy"] = self.module
        sys.modules.pop("sparsenet.engine.cuda.launch", None)
        import sparsenet.engine.cuda as pkg

        if hasattr(pkg, "launch"):
            del pkg.launch  # else `from .cuda import launch` returns the old module
        backend._cupy, backend._cupy_checked, backend._gpu_problem = self.module, True, None

    def uninstall(self):
        cupy, self.backend._cupy, self.backend._cupy_checked, self.backend._gpu_problem, launch = self.saved
        for name, value in (("cupy", cupy), ("sparsenet.engine.cuda.launch", launch)):
            if value is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = value
        import sparsenet.engine.cuda as pkg

        if launch is not None:
            pkg.launch = launch
        elif hasattr(pkg, "launch"):
            del pkg.launch

    def __enter__(self):
        return self.module

    def __exit__(self, *exc):
        self.uninstall()
