"""Randomised copies of a wiring: the null models a biology-guided network is tested against.

- ``genes``: the gene labels permuted over all genes. The topology (every node's degree, which
  nodes share inputs) is kept; the genes on it are random: "do these genes matter?"
- ``edges``: degree-preserving rewiring of each masked layer (the curveball algorithm, Strona et
  al. 2014: every node keeps its number of links, in both directions, and the set of linked genes
  stays): "does the wiring among them matter?"
- ``density``: a random mask of the same shape and number of links, uniform over all cells
  (P-NET's control): "does anything but sparsity matter?"

Each draw is seeded by (seed, kind, draw) and carries its provenance (what was randomised, the
seed, the share of links it moved) in the masks' attributes, so any one can be written out and
trained again with ``sparsenet train --masks``. No cobra here.
"""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np
import scipy.sparse as sp

from ..allowed import one_of
from .store import Masks, incidence, is_identity

KINDS = ("genes", "edges", "density")
KIND_WORDS = {
    "genes": "gene labels permuted (topology kept)",
    "edges": "links rewired, every node's degree kept (curveball)",
    "density": "random links, their number kept",
}


def _rng(seed: int, kind: str, draw: int):
    return np.random.default_rng([int(seed), zlib.crc32(kind.encode()), int(draw)])


def curveball(mask: sp.csr_matrix, rng, trades: int | None = None) -> sp.csr_matrix:
    """A 0/1 matrix with the row and column sums of ``mask``, by curveball trades: two rows pool the
    columns only one of them has and deal them back at random, each keeping its count. ``trades``
    defaults to 10 per row pair's worth of mixing (10 * rows * log(rows))."""
    m = sp.csr_matrix(mask)
    rows = [set(m.indices[m.indptr[i] : m.indptr[i + 1]].tolist()) for i in range(m.shape[0])]
    n = len(rows)
    if n < 2:
        return m.copy()
    trades = trades or int(10 * n * max(1.0, np.log(n)))
    pairs = rng.integers(0, n, size=(trades, 2))
    for a, b in pairs:
        if a == b:
            continue
        ra, rb = rows[a], rows[b]
        only_a, only_b = ra - rb, rb - ra
        if not only_a or not only_b:
            continue
        pool = np.array(sorted(only_a | only_b))
        rng.shuffle(pool)
        take = len(only_a)
        new_a, new_b = set(pool[:take].tolist()), set(pool[take:].tolist())
        rows[a] = (ra - only_a) | new_a
        rows[b] = (rb - only_b) | new_b
    r = np.repeat(np.arange(n), [len(s) for s in rows])
    c = np.concatenate([np.array(sorted(s), dtype=np.int64) for s in rows]) if r.size else np.zeros(0, np.int64)
    return incidence(r, c, m.shape)


def moved_share(before: sp.csr_matrix, after: sp.csr_matrix) -> float:
    """The share of ``before``'s links that ``after`` does not have."""
    b, a = sp.csr_matrix(before, dtype=np.int8), sp.csr_matrix(after, dtype=np.int8)
    return 1.0 - float(b.multiply(a).nnz) / max(1, b.nnz)


def randomise(masks: Masks, kind: str, seed: int, draw: int) -> Masks:
    """Draw ``draw`` of the ``kind`` null model of ``masks`` (seeded: the same call, the same masks)."""
    one_of("null model", kind, KINDS)
    rng = _rng(seed, kind, draw)
    pp = sp.csr_matrix(masks.protein_phenotype, dtype=np.int8)
    gp = sp.csr_matrix(masks.gene_protein, dtype=np.int8)
    if kind == "genes":
        perm = rng.permutation(gp.shape[1])  # gene j's links go to gene perm[j]
        new_gp = gp[:, np.argsort(perm)]
        new_pp = pp
        if is_identity(gp):  # one-to-one: move the links themselves, keep the identity layer
            new_gp, new_pp = gp, pp[:, np.argsort(perm)]
        moved = moved_share(pp @ gp, new_pp @ new_gp)
    elif kind == "edges":
        new_pp = curveball(pp, rng)
        new_gp = gp if is_identity(gp) else curveball(gp, rng)
        moved = moved_share(pp @ gp, new_pp @ new_gp)
    else:
        cells = rng.choice(pp.shape[0] * pp.shape[1], size=pp.nnz, replace=False)
        new_pp = incidence(*np.divmod(cells, pp.shape[1]), pp.shape)
        new_gp = gp
        moved = moved_share(pp @ gp, new_pp @ new_gp)
    attrs = {k: v for k, v in masks.attrs.items() if not str(k).startswith("null_")}
    attrs.update(
        null_model=kind,
        null_words=KIND_WORDS[kind],
        null_seed=int(seed),
        null_draw=int(draw),
        null_links_moved=round(moved, 6),
        null_of=masks.attrs.get("model_id") or masks.source or "masks",
    )
    return dataclasses.replace(
        masks,
        gene_protein=sp.csr_matrix(new_gp),
        protein_phenotype=sp.csr_matrix(new_pp),
        screened_ids=[],
        screened_status=[],
        screened_optimum=np.zeros(0),
        screened_exact_optimum=np.zeros(0),
        attrs=attrs,
        source="",
    )


def randomise_levels(levels, kind: str, seed: int, draw: int) -> list:
    """Draw ``draw`` of the ``kind`` null model of an N-level network's masks (level 1 x features first):
    ``genes``: the features' columns of level 1 permuted (each feature takes another's links: the topology
    is kept, the features on it are random); ``edges``: every level rewired by curveball trades (every
    node's in- and out-degree kept); ``density``: every level a uniform random mask with its shape and
    number of links. Seeded by (seed, kind, draw)."""
    one_of("null model", kind, KINDS)
    rng = _rng(seed, kind, draw)
    levels = [sp.csr_matrix(m, dtype=np.int8) for m in levels]
    if kind == "genes":
        return [levels[0][:, rng.permutation(levels[0].shape[1])].tocsr()] + levels[1:]
    if kind == "edges":
        return [curveball(m, rng) for m in levels]
    out = []
    for m in levels:
        cells = rng.choice(m.shape[0] * m.shape[1], size=m.nnz, replace=False)
        out.append(incidence(*np.divmod(cells, m.shape[1]), m.shape))
    return out
