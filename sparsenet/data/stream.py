"""The paper's augmentation as a stream: profiles repeated and reshuffled up to N samples.

Never materialises the copies. Each epoch is one pass over the training rows in a fresh
order derived from (seed, epoch), so a resumed run sees exactly the batches it would have.
Rows are read ``chunk_rows`` at a time in shuffled chunk order and shuffled again within a
buffer of chunks, so an HDF5 file larger than memory streams with bounded memory.
"""

from __future__ import annotations

import numpy as np

from ..engine.cpu_kernels import gather_columns


def epoch_order(rows: np.ndarray, seed: int, epoch: int, chunk_rows: int) -> np.ndarray:
    rng = np.random.default_rng([seed, epoch])
    if rows.size <= chunk_rows:
        return rng.permutation(rows)
    chunks = [rows[i : i + chunk_rows] for i in range(0, rows.size, chunk_rows)]
    return np.concatenate([rng.permutation(chunks[i]) for i in rng.permutation(len(chunks))])


def batch_indices(rows, batch_size: int, n_samples: int, seed: int, start_step: int = 0, chunk_rows: int = 50_000):
    """Yield (step, row indices of the batch) until ``n_samples`` samples have been served; the
    last batch is cut to reach exactly ``n_samples``, ``start_step`` skips batches already served."""
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        raise ValueError("pre-training has no samples")
    for step in range(start_step, n_steps(n_samples, batch_size)):
        first = step * batch_size
        size = min(batch_size, n_samples - first)
        epoch, offset = divmod(first, rows.size)
        picked = []
        while sum(p.size for p in picked) < size:
            order = epoch_order(rows, seed, epoch, chunk_rows)
            take = order[offset : offset + size - sum(p.size for p in picked)]
            picked.append(take)
            epoch, offset = epoch + 1, 0
        yield step, np.concatenate(picked)


def is_buffered(rows, chunk_rows: int = 50_000) -> bool:
    """Whether the training rows are few enough to be read once and kept in memory."""
    return np.asarray(rows).size <= chunk_rows


def batches(source, rows, batch_size: int, n_samples: int, seed: int, start_step: int = 0, chunk_rows: int = 50_000):
    """Yield (step, float32 batch (samples, genes)) until ``n_samples`` samples have been served.

    ``source.take(indices)`` returns the rows; the last batch is cut to reach exactly
    ``n_samples``. Starting at ``start_step`` skips the batches a checkpoint already covered.
    """
    rows = np.asarray(rows, dtype=np.int64)
    sorted_rows = np.sort(rows)
    # small data: read once, kept feature-major so a batch is a column gather (genes x batch)
    cacheT = np.ascontiguousarray(source.take(sorted_rows).T) if is_buffered(rows, chunk_rows) and rows.size else None
    for step, idx in batch_indices(rows, batch_size, n_samples, seed, start_step, chunk_rows):
        if cacheT is not None:
            outT = np.empty((cacheT.shape[0], idx.size), dtype=cacheT.dtype)
            gather_columns(cacheT, np.searchsorted(sorted_rows, idx), outT)
            yield step, outT.T
        else:
            yield step, source.take(idx)


def n_steps(n_samples: int, batch_size: int) -> int:
    return -(-n_samples // batch_size)
