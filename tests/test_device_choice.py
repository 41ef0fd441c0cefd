"""--device auto uses the GPU only after a test kernel compiled and ran; otherwise one line says why."""

import sys

import numpy as np
import pytest

from sparsenet import backend
from cuda_emulator import cupy_standin


@pytest.fixture
def fresh_probe(monkeypatch):
    """The backend's probe state reset, with ``cupy`` importable as the given module."""

    def use(module):
        monkeypatch.setitem(sys.modules, "cupy", module)
        monkeypatch.setattr(backend, "_cupy", None)
        monkeypatch.setattr(backend, "_cupy_checked", False)
        monkeypatch.setattr(backend, "_gpu_problem", None)
        monkeypatch.setattr(backend, "_told", False)

    return use


def test_auto_uses_a_gpu_whose_probe_kernel_runs(fresh_probe):
    module = cupy_standin.make_module()  # the probe kernel really runs, on the CUDA emulator
    fresh_probe(module)
    assert backend.resolve_device("auto") == "gpu"
    assert backend.gpu_problem() is None


class NoCompiler:
    """A CuPy whose device is present but whose kernel compiler is missing (no NVRTC)."""

    def __init__(self):
        self.standin = cupy_standin.make_module()

    def __getattr__(self, name):
        if name == "RawModule":

            def fail(*a, **k):
                raise RuntimeError("CuPy failed to load libnvrtc.so.13: OSError: cannot open shared object file")

            return fail
        return getattr(self.standin, name)


def test_auto_falls_back_to_the_cpu_with_one_line_when_kernels_cannot_compile(fresh_probe, capsys):
    fresh_probe(NoCompiler())
    assert backend.resolve_device("auto") == "cpu"
    assert backend.resolve_device("auto") == "cpu"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err  # said once
    assert "test kernel did not compile or run" in err[0] and "libnvrtc" in err[0] and "[ctk]" in err[0]
    with pytest.raises(ValueError, match="device 'gpu' asked for, but a CUDA device is present"):
        backend.resolve_device("gpu")


def test_auto_falls_back_when_the_probe_gives_wrong_numbers(fresh_probe, capsys, monkeypatch):
    module = cupy_standin.make_module()
    fresh_probe(module)
    monkeypatch.setattr(backend, "_PROBE", backend._PROBE.replace("2.0f * i", "3.0f * i"))
    assert backend.resolve_device("auto") == "cpu"
    assert "wrong results" in capsys.readouterr().err


def test_no_cupy_is_the_quiet_cpu_default(fresh_probe, capsys):
    fresh_probe(None)  # `import cupy` raises ImportError
    assert backend.resolve_device("auto") == "cpu"
    assert capsys.readouterr().err == ""
    with pytest.raises(ValueError, match="CuPy is not installed"):
        backend.resolve_device("gpu")
    assert backend.xp_for("cpu") is np
