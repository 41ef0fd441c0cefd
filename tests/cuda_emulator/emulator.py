"""Run the engine's real CUDA sources on the CPU: a small emulator of the CUDA execution model.

Each ``.cu`` source is compiled with the system C++ compiler against ``emu.h`` (the CUDA
built-ins) and ``emu_runtime.h`` (the scheduler), into a shared library loaded with ctypes.
A launch runs the grid block by block, every thread of a block as a fiber, so
``__syncthreads`` and the warp shuffles have their real semantics. It checks what CUDA leaves
undefined or what a wrong launcher would get silently wrong on a GPU:

* every argument against the kernel's parameter type, packed as CuPy packs it (a Python int
  is a 64-bit integer, a Python float a double): ``np.int32`` for ``long long`` fails;
* pointer arguments must be C-contiguous device arrays of the pointee's dtype;
* out-of-bounds reads and writes: each array is copied into memory between two guard pages
  (flush against the trailing one, and in one run against the leading one); ``const``
  arrays are read-only, so a write through a cast-away ``const`` faults too;
* barriers reached by only part of a block, warp operations naming absent or exited lanes,
  lanes meeting in different warp operations, deadlocks;
* results that change with the order blocks and threads run in (races): every launch runs
  in several orders from the same inputs and must give bit-identical outputs.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CXX = os.environ.get("CXX", "g++")
CXXFLAGS = ["-std=c++14", "-O2", "-fPIC", "-shared", "-Wall", "-Werror", "-Wno-unused-function"]

# C parameter types -> NumPy dtypes (what CuPy would have to be given for the bytes to be right).
C_TYPES = {
    "float": np.float32,
    "double": np.float64,
    "int": np.int32,
    "unsigned int": np.uint32,
    "unsigned": np.uint32,
    "long long": np.int64,
    "long long int": np.int64,
    "unsigned long long": np.uint64,
    "size_t": np.uint64,
    "short": np.int16,
    "unsigned short": np.uint16,
    "char": np.int8,
    "signed char": np.int8,
    "unsigned char": np.uint8,
    "bool": np.bool_,
    "int32_t": np.int32,
    "int64_t": np.int64,
    "uint32_t": np.uint32,
    "uint64_t": np.uint64,
}
# Block orders each launch runs in (name, reverse threads, data flush against the leading guard).
ORDERS = (("forward", False, False), ("reverse", True, False), ("shuffled", False, True))

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
PAGE = os.sysconf("SC_PAGE_SIZE")
PROT_NONE, PROT_READ, PROT_WRITE = 0, 1, 2
MAP_PRIVATE, MAP_ANONYMOUS = 0x02, 0x20


class EmulatorError(RuntimeError):
    """A kernel did something undefined, or was launched with arguments that do not fit it."""


@dataclass(frozen=True)
class Param:
    name: str
    ctype: str  # as written, without __restrict__
    base: str  # pointee or value type, without const
    pointer: bool
    const: bool

    @property
    def dtype(self):
        if self.base not in C_TYPES:
            raise EmulatorError(f"parameter {self.name}: type {self.base!r} is not one the emulator knows")
        return np.dtype(C_TYPES[self.base])


def parse_kernels(source: str) -> dict[str, list[Param]]:
    """Every ``extern "C" __global__ void name(...)`` in ``source``: its parameters in order."""
    kernels = {}
    for m in re.finditer(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)', source):
        params = []
        for text in m.group(2).split(","):
            text = " ".join(text.replace("__restrict__", " ").split())
            if not text:
                continue
            pm = re.fullmatch(r"(.*?[\s*&])(\w+)", text)
            ctype, name = pm.group(1).strip(), pm.group(2)
            pointer = "*" in ctype
            base = " ".join(ctype.replace("*", " ").replace("const", " ").split())
            params.append(Param(name, ctype, base, pointer, pointer and ctype.startswith("const")))
        kernels[m.group(1)] = params
    return kernels


def _build(source: str, kernels: dict[str, list[Param]], extra_flags=()) -> Path:
    wrappers = []
    for name, params in kernels.items():
        call = ", ".join(f"*({p.ctype}*)p[{i}]" for i, p in enumerate(params))
        wrappers.append(f'extern "C" void emu_entry_{name}(void** p) {{ {name}({call}); }}')
    tu = (
        f'#include "{HERE / "emu.h"}"\n#line 1 "kernel.cu"\n{source}\n'
        f'#include "{HERE / "emu_runtime.h"}"\n' + "\n".join(wrappers) + "\n"
    )
    runtime = (HERE / "emu.h").read_text() + (HERE / "emu_runtime.h").read_text()
    flags = [*CXXFLAGS, *extra_flags]
    key = hashlib.sha256((tu + runtime + " ".join(flags)).encode()).hexdigest()[:20]
    cache = Path(tempfile.gettempdir()) / f"sparsenet-cuda-emulator-{os.getuid()}"
    cache.mkdir(exist_ok=True)
    lib = cache / f"{key}.so"
    if not lib.exists():
        src = cache / f"{key}.cpp"
        src.write_text(tu)
        tmp = cache / f"{key}.{os.getpid()}.so"
        proc = subprocess.run([CXX, *flags, "-o", str(tmp), str(src)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise EmulatorError(f"the kernel source does not compile for the emulator:\n{proc.stderr}")
        tmp.replace(lib)
    return lib


class _Guarded:
    """A copy of one array's bytes between two inaccessible pages."""

    def __init__(self, host: np.ndarray, flush_front: bool, readonly: bool):
        self.nbytes = host.nbytes
        self.data_pages = -(-self.nbytes // PAGE) * PAGE
        self.size = self.data_pages + 2 * PAGE
        self.base = _libc.mmap(None, self.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        if self.base in (None, ctypes.c_void_p(-1).value):
            raise MemoryError("emulator: mmap failed")
        _libc.mprotect(self.base, PAGE, PROT_NONE)
        _libc.mprotect(self.base + PAGE + self.data_pages, PAGE, PROT_NONE)
        self.start = self.base + PAGE + (0 if flush_front else self.data_pages - self.nbytes)
        ctypes.memmove(self.start, host.ctypes.data, self.nbytes)
        if readonly and self.data_pages:
            _libc.mprotect(self.base + PAGE, self.data_pages, PROT_READ)

    def read(self) -> bytes:
        return ctypes.string_at(self.start, self.nbytes)

    def free(self):
        _libc.munmap(self.base, self.size)


def _pack_scalar(value, param: Param, position: int, kernel: str):
    """The scalar's bytes as CuPy would pass them, checked against the parameter's type."""
    if isinstance(value, (bool, np.bool_)):
        arr = np.asarray(value, dtype=np.bool_)
    elif isinstance(value, int):
        arr = np.asarray(value, dtype=np.int64)  # CuPy: Python int -> 64-bit integer
    elif isinstance(value, float):
        arr = np.asarray(value, dtype=np.float64)  # CuPy: Python float -> double
    elif isinstance(value, np.generic):
        arr = np.asarray(value)
    else:
        raise EmulatorError(
            f"{kernel}: argument {position} ({param.name}) is a {type(value).__name__}, not a scalar or device array"
        )
    if arr.dtype != param.dtype:
        raise EmulatorError(
            f"{kernel}: argument {position} ({param.name}) is {arr.dtype} but the kernel "
            f"takes {param.ctype} ({param.dtype}); pass np.{param.dtype.name}(...)"
        )
    return arr.copy()


class Module:
    """One compiled ``.cu`` source; ``launch`` runs one of its kernels."""

    def __init__(self, source: str, extra_flags=()):
        self.kernels = parse_kernels(source)
        if not self.kernels:
            raise EmulatorError('no extern "C" __global__ kernels in the source')
        self.lib = ctypes.CDLL(str(_build(source, self.kernels, extra_flags)))
        self.lib.emu_launch.restype = ctypes.c_int
        self.launches = []  # (kernel name, grid, block) of every launch, for tests

    def launch(self, name, grid, block, args, shared_mem=0, orders=None):
        if name not in self.kernels:
            raise EmulatorError(f"no kernel named {name!r} (have {', '.join(self.kernels)})")
        params = self.kernels[name]
        grid, block = _dims(grid, "grid"), _dims(block, "block")
        _check_config(name, grid, block, shared_mem)
        if len(args) != len(params):
            raise EmulatorError(f"{name}: {len(args)} arguments for {len(params)} parameters")
        arrays, scalars = {}, {}
        for i, (a, p) in enumerate(zip(args, params, strict=True)):
            if p.pointer:
                arrays[i] = _device_operand(a, p, i, name)
            else:
                if isinstance(a, np.ndarray):
                    raise EmulatorError(f"{name}: argument {i} ({p.name}) is an array but the kernel takes {p.ctype}")
                scalars[i] = _pack_scalar(a, p, i, name)
        self.launches.append((name, grid, block))
        n_blocks = grid[0] * grid[1] * grid[2]
        results = []
        for order, reverse, flush_front in orders or ORDERS:
            if order == "forward":
                block_order = np.arange(n_blocks, dtype=np.int64)
            elif order == "reverse":
                block_order = np.arange(n_blocks, dtype=np.int64)[::-1].copy()
            else:
                block_order = np.random.default_rng(n_blocks).permutation(n_blocks).astype(np.int64)
            results.append(
                (order, self._run(name, params, grid, block, arrays, scalars, block_order, reverse, flush_front))
            )
        first_order, first = results[0]
        for order, other in results[1:]:
            for i, data in first.items():
                if data != other[i]:
                    a = np.frombuffer(data, params[i].dtype)
                    size = a.itemsize
                    n = int(
                        (
                            np.frombuffer(data, np.uint8).reshape(-1, size)
                            != np.frombuffer(other[i], np.uint8).reshape(-1, size)
                        )
                        .any(axis=1)
                        .sum()
                    )
                    raise EmulatorError(
                        f"{name}: argument {i} ({params[i].name}) differs between block orders "
                        f"'{first_order}' and '{order}' at {n} of {a.size} elements: a race, or "
                        f"a result that depends on scheduling"
                    )
        for i, data in first.items():
            host = arrays[i]
            np.copyto(host, np.frombuffer(data, host.dtype).reshape(host.shape))

    def _run(self, name, params, grid, block, arrays, scalars, block_order, reverse, flush_front):
        guarded = {}
        try:
            # identical arrays passed twice share one buffer, as they share device memory
            by_address = {}
            for i, host in arrays.items():
                key = (host.ctypes.data, host.nbytes)
                if key not in by_address:
                    by_address[key] = _Guarded(
                        host,
                        flush_front,
                        readonly=all(params[j].const for j, h in arrays.items() if (h.ctypes.data, h.nbytes) == key),
                    )
                guarded[i] = by_address[key]
            _check_no_partial_overlap(name, params, arrays)
            values = {i: ctypes.c_void_p(g.start) for i, g in guarded.items()}
            pointers = (ctypes.c_void_p * len(params))()
            for i in range(len(params)):
                pointers[i] = ctypes.addressof(values[i]) if i in values else scalars[i].ctypes.data
            entry = getattr(self.lib, f"emu_entry_{name}")
            err = ctypes.create_string_buffer(2048)
            fault = ctypes.c_void_p()
            rc = self.lib.emu_launch(
                ctypes.cast(entry, ctypes.c_void_p),
                pointers,
                ctypes.c_uint(grid[0]),
                ctypes.c_uint(grid[1]),
                ctypes.c_uint(grid[2]),
                ctypes.c_uint(block[0]),
                ctypes.c_uint(block[1]),
                ctypes.c_uint(block[2]),
                block_order.ctypes.data_as(ctypes.POINTER(ctypes.c_longlong)),
                ctypes.c_longlong(block_order.size),
                ctypes.c_int(int(reverse)),
                err,
                ctypes.c_int(len(err)),
                ctypes.byref(fault),
            )
            where = err.value.decode()
            if rc == 1:
                raise EmulatorError(f"{name}: {where}")
            if rc == 2:
                raise EmulatorError(f"{name}: {_describe_fault(fault.value or 0, guarded, params, arrays)} in {where}")
            return {i: g.read() for i, g in guarded.items() if not params[i].const}
        finally:
            for g in {id(g): g for g in guarded.values()}.values():
                g.free()


def _dims(d, what):
    d = (d,) if isinstance(d, (int, np.integer)) else tuple(d)
    if not 1 <= len(d) <= 3 or any(not isinstance(v, (int, np.integer)) for v in d):
        raise EmulatorError(f"{what} must be an int or a tuple of 1-3 ints, got {d!r}")
    return tuple(int(v) for v in d) + (1,) * (3 - len(d))


def _check_config(name, grid, block, shared_mem):
    if min(grid) < 1 or min(block) < 1:
        raise EmulatorError(f"{name}: invalid configuration (grid {grid}, block {block}): dimensions must be >= 1")
    if grid[0] > 2**31 - 1 or grid[1] > 65535 or grid[2] > 65535:
        raise EmulatorError(f"{name}: grid {grid} exceeds CUDA's limits (2^31-1, 65535, 65535)")
    if block[0] * block[1] * block[2] > 1024 or block[0] > 1024 or block[1] > 1024 or block[2] > 64:
        raise EmulatorError(f"{name}: block {block} exceeds CUDA's limits (1024 threads; 1024, 1024, 64)")
    if shared_mem:
        raise EmulatorError(f"{name}: dynamic shared memory is not emulated")


def _device_operand(a, p: Param, i: int, name: str) -> np.ndarray:
    from . import cupy_standin

    if not isinstance(a, cupy_standin.ndarray):
        raise EmulatorError(
            f"{name}: argument {i} ({p.name}) must be a device array for {p.ctype}, got {type(a).__name__}"
        )
    if a.dtype != p.dtype:
        raise EmulatorError(f"{name}: argument {i} ({p.name}) is a {a.dtype} array but the kernel takes {p.ctype}")
    if not a.flags.c_contiguous:
        raise EmulatorError(
            f"{name}: argument {i} ({p.name}) is not C-contiguous; the kernel indexes it as one dense block"
        )
    return a.view(np.ndarray)


def _check_no_partial_overlap(name, params, arrays):
    spans = sorted((h.ctypes.data, h.ctypes.data + h.nbytes, i) for i, h in arrays.items() if h.nbytes)
    for (s0, e0, i0), (s1, e1, i1) in zip(spans, spans[1:], strict=False):
        if s1 < e0 and (s0, e0) != (s1, e1):
            raise EmulatorError(
                f"{name}: arguments {i0} ({params[i0].name}) and {i1} ({params[i1].name}) overlap partially"
            )


def _describe_fault(addr, guarded, params, arrays):
    for i, g in guarded.items():
        p, host = params[i], arrays[i]
        what = f"argument {i} ({p.name}, {p.ctype}, {host.size} elements)"
        if g.start <= addr < g.start + g.nbytes:
            return f"write to read-only {what} at element {(addr - g.start) // host.itemsize}"
        if g.start + g.nbytes <= addr < g.base + g.size:
            return f"out-of-bounds access {addr - (g.start + g.nbytes)} bytes past the end of {what}"
        if g.base <= addr < g.start:
            return f"out-of-bounds access {g.start - addr} bytes before the start of {what}"
    return f"invalid memory access at {addr:#x} (not inside any argument)"
