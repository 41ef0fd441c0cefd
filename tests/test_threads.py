"""Numba's OpenMP threads wait passively unless the user says otherwise (sparsenet/__init__.py): spinning
ones made fine-tuning ~40x slower beside another busy process on the same cores."""
import os
import subprocess
import sys

CODE = "import os, sparsenet; print(os.environ['OMP_WAIT_POLICY'])"


def _policy(env):
    return subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True).stdout.strip()


def test_openmp_threads_wait_passively_by_default():
    assert _policy({k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}) == "PASSIVE"


def test_the_users_wait_policy_is_kept():
    assert _policy({**os.environ, "OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"
