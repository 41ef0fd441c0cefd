"""How many CPU threads a small problem gets.

The Numba kernels split their work over threads; every kernel launch ends at a barrier where the threads
wait for each other. Threads wait passively (``sparsenet/__init__.py``: spinning ones collapse beside any
other busy process), and waking a passive thread costs tens of microseconds: at fine-tuning's sizes
(~6,000 parameters per network, ~150 samples, a dozen launches a step) that is more than the work.
Measured on 2 cores (PRECISE fold, 300–1,000 Adam steps): one network 0.31 s on one thread against
0.78 s on two; 5 networks 1.17 s against 1.61 s; 10 networks 1.02 s against 0.91 s; 50 networks 4.35 s
against 2.99 s. So below ``ONE_THREAD_BELOW`` (parameters × samples) a problem runs on one thread.
"""

from __future__ import annotations

from contextlib import contextmanager

ONE_THREAD_BELOW = 6_000_000  # parameters x samples: about 8 default networks at batch 150


@contextmanager
def threads_for(work: float, device: str = "cpu"):
    """Run the block on one CPU thread when ``work`` (parameters × samples) is below ``ONE_THREAD_BELOW``;
    otherwise (and on the GPU) leave the thread count as it is."""
    if device != "cpu" or work >= ONE_THREAD_BELOW:
        yield
        return
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)
