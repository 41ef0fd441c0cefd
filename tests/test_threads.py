"""Numba's OpenMP threads wait passively unless the user says otherwise (sparsenet/__init__.py): spinning
ones made fine-tuning ~40x slower beside another busy process on the same cores."""

import os
import subprocess
import sys

CODE = "import os, sparsenet; print(os.environ['OMP_WAIT_POLICY'])"


def _policy(env):
    return subprocess.run(
        [sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_openmp_threads_wait_passively_by_default():
    assert _policy({k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}) == "PASSIVE"


def test_the_users_wait_policy_is_kept():
    assert _policy({**os.environ, "OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"


def test_small_problems_run_on_one_thread_and_the_count_comes_back():
    import numba

    from sparsenet.engine.threads import ONE_THREAD_BELOW, threads_for

    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    before = numba.get_num_threads()
    with threads_for(ONE_THREAD_BELOW - 1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    with threads_for(ONE_THREAD_BELOW):
        assert numba.get_num_threads() == before
    with threads_for(1, device="gpu"):
        assert numba.get_num_threads() == before
    try:
        with threads_for(1):
            raise RuntimeError
    except RuntimeError:
        pass
    assert numba.get_num_threads() == before


def test_one_thread_or_two_the_same_fine_tuning():
    """The kernels reduce in a fixed order: a stack fitted on one thread ends where it ends on two."""
    import numba
    import numpy as np

    from sparsenet.engine import threads

    from synthetic import core_masks
    from sparsenet import SparseNetRegressor

    rng = np.random.default_rng(0)
    masks = core_masks()
    x = rng.normal(size=(60, len(masks.gene_ids))).astype(np.float32)
    y = x[:, :5].sum(axis=1) * 0.1 + 1.0
    fits, default = [], threads.ONE_THREAD_BELOW
    for below in (0, 10**12):  # never one thread; always one thread
        threads.ONE_THREAD_BELOW = below
        try:
            fits.append(SparseNetRegressor(masks=masks, max_iter=50, ensemble=2).fit(x, y).predict(x))
        finally:
            threads.ONE_THREAD_BELOW = default
    if numba.get_num_threads() > 1:
        np.testing.assert_array_equal(fits[0], fits[1])
