"""Every .cu source compiles: with the machine's nvcc for sm_80 and sm_90, and with NVRTC (the pip
wheel CuPy's [ctk] extra installs) under the options CuPy itself adds, as ``launch.py`` compiles
them on a GPU. Running them is tests/test_cuda_emulator.py's and the GPU tests' job."""

import ctypes
import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

CUDA_DIR = Path(__file__).resolve().parents[1] / "sparsenet" / "engine" / "cuda"
SOURCES = sorted(CUDA_DIR.glob("*.cu"))


def test_cuda_sources_exist():
    names = {p.name for p in SOURCES}
    assert {"masked_linear.cu", "activation.cu", "adam.cu"} <= names


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not installed: CUDA compile check skipped")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_cuda_source_compiles(source, arch, tmp_path):
    out = tmp_path / f"{source.stem}.cubin"
    proc = subprocess.run(
        ["nvcc", f"-arch={arch}", "--std=c++14", "-Werror", "all-warnings", "--cubin", "-o", str(out), str(source)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0


def test_launchers_name_only_existing_kernels():
    import re

    launcher = (CUDA_DIR / "launch.py").read_text()
    used = set(re.findall(r'_kernel\("(\w+\.cu)", "(\w+)"\)', launcher))
    assert used, "no kernel launches found"
    for filename, name in used:
        src = (CUDA_DIR / filename).read_text()
        assert re.search(rf'extern "C" __global__ void {name}\s*\(', src), f"{name} not in {filename}"


def _nvrtc():
    """libnvrtc from the nvidia-cuda-nvrtc wheel, or None."""
    spec = importlib.util.find_spec("nvidia")
    for loc in spec.submodule_search_locations if spec else []:
        libs = sorted(Path(loc).glob("cu*/lib/libnvrtc.so.*")) + sorted(Path(loc).glob("cuda_nvrtc/lib/libnvrtc.so.*"))
        for lib in libs:
            return ctypes.CDLL(str(lib))
    return None


NVRTC = _nvrtc()
# What launch.py passes (--std=c++14) plus what CuPy's RawModule adds for NVRTC: -ftz=true and the
# device's architecture (a cubin for sm_XX).
CUPY_OPTIONS = ["--std=c++14", "-ftz=true"]


@pytest.mark.skipif(NVRTC is None, reason="the nvidia-cuda-nvrtc wheel is not installed (pip install -e '.[test]')")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_cuda_source_compiles_with_nvrtc_as_cupy_compiles_it(source, arch):
    import re

    from sparsenet.engine.cuda.sources import read_source

    assert re.search(r'OPTIONS = \("--std=c\+\+14",\)', (CUDA_DIR / "launch.py").read_text()), (
        "launch.py's compile options changed: update CUPY_OPTIONS here"
    )
    code = read_source(source.name)  # the text launch.py gives CuPy, headers written in
    assert '#include "' not in code
    prog = ctypes.c_void_p()
    assert NVRTC.nvrtcCreateProgram(ctypes.byref(prog), code.encode(), source.name.encode(), 0, None, None) == 0
    try:
        opts = [o.encode() for o in CUPY_OPTIONS + [f"-arch={arch}"]]
        rc = NVRTC.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts))
        size = ctypes.c_size_t()
        NVRTC.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        NVRTC.nvrtcGetProgramLog(prog, log)
        assert rc == 0, log.value.decode()
        assert "warning" not in log.value.decode().lower(), log.value.decode()
        NVRTC.nvrtcGetCUBINSize(prog, ctypes.byref(size))
        assert size.value > 0
    finally:
        NVRTC.nvrtcDestroyProgram(ctypes.byref(prog))


def test_sources_are_compiled_with_their_headers_written_in(tmp_path):
    """launch.py gives CuPy one self-contained text per module, so CuPy's cache (keyed by that text)
    also sees a change to a header."""
    from sparsenet.engine.cuda.sources import read_source

    (tmp_path / "a.cuh").write_text('#pragma once\n#include "b.cuh"\nint a;\n')
    (tmp_path / "b.cuh").write_text("#pragma once\nint b;\n")
    (tmp_path / "k.cu").write_text('#include "a.cuh"\n#include "b.cuh"\n#include <cstdio>\nint k;\n')
    assert read_source("k.cu", tmp_path).split() == ["int", "b;", "int", "a;", "#include", "<cstdio>", "int", "k;"]
    text = read_source("masked_linear.cu")
    assert "__device__ __forceinline__ float activate(int act" in text and '#include "' not in text
