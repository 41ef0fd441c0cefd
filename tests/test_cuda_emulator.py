"""The CUDA emulator itself: kernels with known defects must be caught, correct ones must run
with CUDA's semantics (barriers, shuffles, grid/block indices), argument packing as CuPy's."""

import numpy as np
import pytest

from cuda_emulator import cupy_standin
from cuda_emulator.emulator import EmulatorError, Module, parse_kernels

dev = cupy_standin.make_module()


def run(source, name, grid, block, args):
    Module(source).launch(name, grid, block, args)


COPY = """
extern "C" __global__ void copy(const float* __restrict__ x, float* __restrict__ y, int n, int shift) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i + shift];
}
"""


def test_correct_kernel_runs_and_writes_every_element():
    x = dev.arange(1000, dtype=np.float32)
    y = dev.full(1000, np.nan, dtype=np.float32)
    run(COPY, "copy", (4,), (256,), (x, y, np.int32(1000), np.int32(0)))
    np.testing.assert_array_equal(y.get(), np.arange(1000, dtype=np.float32))


@pytest.mark.parametrize(
    "shift,where", [(1, "past the end of argument 0 (x"), (-1, "before the start of argument 0 (x")]
)
def test_out_of_bounds_read_is_caught(shift, where):
    x, y = dev.zeros(1000, dtype=np.float32), dev.zeros(1000, dtype=np.float32)
    with pytest.raises(EmulatorError, match=where.replace("(", r"\(")):
        run(COPY, "copy", (4,), (256,), (x, y, np.int32(1000), np.int32(shift)))


def test_out_of_bounds_write_is_caught():
    src = """extern "C" __global__ void w(float* y, int n) {
        int i = blockIdx.x * blockDim.x + threadIdx.x; y[i] = 1.0f; }"""  # no bounds check
    with pytest.raises(EmulatorError, match=r"past the end of argument 0 \(y"):
        run(src, "w", (4,), (256,), (dev.zeros(1000, dtype=np.float32), np.int32(1000)))


def test_write_through_cast_away_const_is_caught():
    src = """extern "C" __global__ void w(const float* x) { ((float*)x)[threadIdx.x] = 0.0f; }"""
    with pytest.raises(EmulatorError, match="write to read-only argument 0"):
        run(src, "w", (1,), (32,), (dev.ones(32, dtype=np.float32),))


def test_empty_array_is_not_readable():
    src = """extern "C" __global__ void r(const float* b, float* y) { y[threadIdx.x] = b[0]; }"""
    with pytest.raises(EmulatorError, match="past the end of argument 0"):
        run(src, "r", (1,), (2,), (dev.zeros(0, dtype=np.float32), dev.zeros(2, dtype=np.float32)))


REVERSE = """
extern "C" __global__ void reverse(const float* x, float* y) {
    __shared__ float s[128];
    int t = threadIdx.x, base = blockIdx.x * blockDim.x;
    s[t] = x[base + t];
    SYNC
    y[base + t] = s[blockDim.x - 1 - t];
}
"""


def test_syncthreads_is_a_real_barrier_and_a_missing_one_is_caught():
    x = dev.asarray(np.random.default_rng(0).normal(size=512).astype(np.float32))
    y = dev.zeros(512, dtype=np.float32)
    run(REVERSE.replace("SYNC", "__syncthreads();"), "reverse", (4,), (128,), (x, y))
    np.testing.assert_array_equal(y.get(), x.get().reshape(4, 128)[:, ::-1].ravel())
    with pytest.raises(EmulatorError, match="differs between block orders"):
        run(REVERSE.replace("SYNC", ""), "reverse", (4,), (128,), (x, y))


def test_barrier_reached_by_part_of_the_block_is_caught():
    src = """extern "C" __global__ void b(float* y) {
        if (threadIdx.x >= 40) return;
        __syncthreads();
        y[threadIdx.x] = 1.0f; }"""
    with pytest.raises(EmulatorError, match="__syncthreads reached by 40 of the block's 64 threads"):
        run(src, "b", (1,), (64,), (dev.zeros(64, dtype=np.float32),))


WARP = """
extern "C" __global__ void warp_ops(const float* x, float* down, float* up, float* xr, float* idx, float* red) {
    int t = threadIdx.x;
    float v = x[t];
    down[t] = __shfl_down_sync(0xffffffffu, v, 3);
    up[t] = __shfl_up_sync(0xffffffffu, v, 5);
    xr[t] = __shfl_xor_sync(0xffffffffu, v, 9);
    idx[t] = __shfl_sync(0xffffffffu, v, 7, 16);
    float acc = v;
    for (int off = 16; off > 0; off >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, off);
    red[t] = acc;
}
"""


def test_warp_shuffles_have_cuda_semantics():
    x = np.random.default_rng(1).normal(size=64).astype(np.float32)
    outs = [dev.zeros(64, dtype=np.float32) for _ in range(5)]
    run(WARP, "warp_ops", (1,), (64,), (dev.asarray(x), *outs))
    down, up, xr, idx, red = (o.get() for o in outs)
    lane = np.arange(64) % 32
    warp = np.arange(64) // 32 * 32
    np.testing.assert_array_equal(down, x[np.where(lane + 3 < 32, np.arange(64) + 3, np.arange(64))])
    np.testing.assert_array_equal(up, x[np.where(lane >= 5, np.arange(64) - 5, np.arange(64))])
    np.testing.assert_array_equal(xr, x[warp + (lane ^ 9)])
    np.testing.assert_array_equal(idx, x[warp + lane // 16 * 16 + 7])
    np.testing.assert_allclose(red[[0, 32]], [x[:32].sum(), x[32:].sum()], rtol=1e-5)


def test_portable_ucontext_fibers_give_the_same_results():
    """The fiber switch other machines use (ucontext), forced here: same warp semantics."""
    x = np.random.default_rng(2).normal(size=64).astype(np.float32)
    fast, portable = ([dev.zeros(64, dtype=np.float32) for _ in range(5)] for _ in range(2))
    Module(WARP).launch("warp_ops", (1,), (64,), (dev.asarray(x), *fast))
    Module(WARP, extra_flags=["-DEMU_USE_UCONTEXT"]).launch("warp_ops", (1,), (64,), (dev.asarray(x), *portable))
    for a, b in zip(fast, portable, strict=True):
        np.testing.assert_array_equal(a.get(), b.get())
    y = dev.zeros(256, dtype=np.float32)
    Module(REVERSE.replace("SYNC", "__syncthreads();"), extra_flags=["-DEMU_USE_UCONTEXT"]).launch(
        "reverse", (2,), (128,), (dev.asarray(np.arange(256, dtype=np.float32)), y)
    )
    np.testing.assert_array_equal(y.get(), np.arange(256).reshape(2, 128)[:, ::-1].ravel())


def test_shuffle_naming_absent_or_exited_lanes_is_caught():
    partial_warp = """extern "C" __global__ void s(float* y) {
        y[threadIdx.x] = __shfl_down_sync(0xffffffffu, 1.0f, 1); }"""
    with pytest.raises(EmulatorError, match="names lane 16, but warp 0 has only 16 threads"):
        run(partial_warp, "s", (1,), (16,), (dev.zeros(16, dtype=np.float32),))
    exited = """extern "C" __global__ void s(float* y) {
        if (threadIdx.x == 3) return;
        y[threadIdx.x] = __shfl_down_sync(0xffffffffu, 1.0f, 1); }"""
    with pytest.raises(EmulatorError, match="names lane 3, which has already exited"):
        run(exited, "s", (1,), (32,), (dev.zeros(32, dtype=np.float32),))


def test_race_between_threads_is_caught():
    src = """extern "C" __global__ void race(float* y) { y[0] = (float)(blockIdx.x * blockDim.x + threadIdx.x); }"""
    with pytest.raises(EmulatorError, match="differs between block orders"):
        run(src, "race", (3,), (32,), (dev.zeros(1, dtype=np.float32),))


def test_grid_and_block_indices_in_three_dimensions():
    src = """extern "C" __global__ void ids(int* out) {
        int b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
        int t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
        out[b * blockDim.x * blockDim.y * blockDim.z + t] = b * 1000 + t; }"""
    out = dev.full(2 * 3 * 2 * 24, -1, dtype=np.int32)
    run(src, "ids", (2, 3, 2), (4, 3, 2), (out,))
    b, t = np.divmod(np.arange(out.size), 24)
    np.testing.assert_array_equal(out.get(), b * 1000 + t)


@pytest.mark.parametrize(
    "arg,match",
    [
        (np.int32(5), r"argument 1 \(n\) is int32 but the kernel takes long long"),
        (5.0, r"argument 1 \(n\) is float64 but the kernel takes long long"),
        (np.float32(5), r"argument 1 \(n\) is float32"),
    ],
)
def test_scalars_are_packed_as_cupy_packs_them_and_checked(arg, match):
    src = """extern "C" __global__ void k(float* y, long long n) { if (threadIdx.x < n) y[threadIdx.x] = 1.0f; }"""
    with pytest.raises(EmulatorError, match=match):
        run(src, "k", (1,), (8,), (dev.zeros(8, dtype=np.float32), arg))
    run(src, "k", (1,), (8,), (dev.zeros(8, dtype=np.float32), 5))  # a Python int is 64-bit, as in CuPy


def test_python_int_for_an_int_parameter_is_refused():
    with pytest.raises(EmulatorError, match=r"argument 2 \(n\) is int64 but the kernel takes int"):
        run(COPY, "copy", (1,), (8,), (dev.zeros(8, dtype=np.float32), dev.zeros(8, dtype=np.float32), 8, np.int32(0)))


@pytest.mark.parametrize(
    "bad,match",
    [
        (np.zeros(8, np.float32), "must be a device array"),
        (dev.zeros(8, dtype=np.float64), "is a float64 array but the kernel takes const float"),
        (dev.zeros((8, 2), dtype=np.float32)[:, 0], "not C-contiguous"),
    ],
)
def test_array_arguments_are_checked(bad, match):
    with pytest.raises(EmulatorError, match=match):
        run(COPY, "copy", (1,), (8,), (bad, dev.zeros(8, dtype=np.float32), np.int32(8), np.int32(0)))


def test_launch_configuration_limits():
    with pytest.raises(EmulatorError, match="exceeds CUDA's limits"):
        run(
            COPY,
            "copy",
            (1,),
            (2048,),
            (dev.zeros(8, dtype=np.float32), dev.zeros(8, dtype=np.float32), np.int32(8), np.int32(0)),
        )


def test_parse_kernels_reads_parameter_types():
    params = parse_kernels(COPY)["copy"]
    assert [(p.name, p.base, p.pointer, p.const) for p in params] == [
        ("x", "float", True, True),
        ("y", "float", True, False),
        ("n", "int", False, False),
        ("shift", "int", False, False),
    ]


def test_standin_refuses_to_mix_host_and_device_arrays():
    with pytest.raises(TypeError, match="host NumPy array mixed with device arrays"):
        dev.ones(3, dtype=np.float32) + np.ones(3, dtype=np.float32)
    assert isinstance(dev.ones(3, dtype=np.float32) * 2, dev.ndarray)
    assert isinstance(dev.bincount(dev.asarray(np.array([0, 2, 2]))), dev.ndarray)
