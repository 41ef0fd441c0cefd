"""Pick the kernel set for an array module: Numba kernels for NumPy, CUDA launchers for CuPy.

Both sets have the same function names and signatures, so each layer has one code path.
"""

import numpy as np


def for_module(xp):
    if xp is np:
        from . import cpu_kernels

        return cpu_kernels
    from .cuda import launch

    return launch
