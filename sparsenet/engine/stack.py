"""K networks that share their input, run as one: their masks stacked into one masked layer.

Member k's mask (out_k x in) becomes rows ``offsets[k]:offsets[k+1]`` of one block-row mask over
the same inputs, so one forward (an SpMM over the stacked CSR), one backward (the SDDMM at the
stacked nonzeros) and one Adam step serve every member, on the CPU kernels and the CUDA kernels
alike; rows never mix, so each member's numbers are those of fitting it alone. A per-member input
scale (the gene -> protein layer folded in) is a scale per (member, input): each nonzero reads the
scale of its own member (``scale_index``). Layers after it that are per-member dense (a read-out)
stack as a block-diagonal mask.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .masked_linear import as_binary_csr


def stack_rows(masks) -> tuple[sp.csr_matrix, np.ndarray]:
    """The members' masks (each out_k x in, the same ``in``) one above the other: (stacked CSR, row
    offsets of the members, length K + 1)."""
    masks = [as_binary_csr(m, f"mask of member {k}") for k, m in enumerate(masks)]
    widths = {m.shape[1] for m in masks}
    if len(widths) != 1:
        raise ValueError(
            f"stack_rows: members take different inputs ({sorted(widths)} features); a stack shares its input"
        )
    offsets = np.concatenate([[0], np.cumsum([m.shape[0] for m in masks])]).astype(np.int64)
    stacked = sp.vstack(masks, format="csr")
    stacked.sort_indices()
    return stacked, offsets


def member_of_rows(offsets: np.ndarray) -> np.ndarray:
    """The member each stacked row belongs to."""
    return np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))


def scale_index(stacked: sp.csr_matrix, offsets: np.ndarray) -> np.ndarray:
    """For each nonzero of the stacked mask (CSR order), its input scale's position in the flat
    (member, input) scale vector: member * n_in + column."""
    rows = np.repeat(np.arange(stacked.shape[0]), np.diff(stacked.indptr))
    return (member_of_rows(offsets)[rows] * stacked.shape[1] + stacked.indices).astype(np.int64)


def block_diagonal(shapes) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """A full (out_k x in_k) block per member on the diagonal: per-member dense layers (read-outs) as one
    masked layer. Returns (mask, row offsets, column offsets)."""
    blocks = [sp.csr_matrix(np.ones(s)) for s in shapes]
    mask = sp.block_diag(blocks, format="csr")
    mask.sort_indices()
    rows = np.concatenate([[0], np.cumsum([s[0] for s in shapes])]).astype(np.int64)
    cols = np.concatenate([[0], np.cumsum([s[1] for s in shapes])]).astype(np.int64)
    return mask, rows, cols
