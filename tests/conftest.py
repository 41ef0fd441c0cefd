import numpy as np
import pytest
import scipy.sparse as sp


def random_mask(rng, n_out, n_in, density, empty_row=None, empty_col=None):
    m = (rng.random((n_out, n_in)) < density).astype(np.float64)
    if empty_row is not None:
        m[empty_row, :] = 0
    if empty_col is not None:
        m[:, empty_col] = 0
    return sp.csr_matrix(m)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def _real_gpu_cupy():
    """CuPy if it is installed and sees a GPU (checked without the engine's cached probe)."""
    try:
        import cupy

        if getattr(cupy, "is_emulator", False):
            return None
        return cupy if cupy.cuda.runtime.getDeviceCount() > 0 else None
    except Exception:
        return None


@pytest.fixture(params=["emulator", "gpu"])
def cp(request):
    """The GPU path's array module: the CuPy stand-in whose kernels run on the CUDA emulator
    (always), and real CuPy on a GPU (when one is present). The engine's backend uses it."""
    if request.param == "gpu":
        real = _real_gpu_cupy()
        if real is None:
            pytest.skip("no GPU: CuPy missing or sees no CUDA device")
        yield real
        return
    from cuda_emulator import cupy_standin

    with cupy_standin.install() as module:
        yield module
