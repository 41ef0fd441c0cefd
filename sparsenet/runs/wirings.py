"""The wirings a run's fits use: the masks file's, or (``--wiring ica``) each fit's own independent components
of its pre-training pool; a control's null draws of either; the genes each links. Each is made once per run
and kept (explicit caches, shipped with the runner to Dask workers)."""

from __future__ import annotations

import hashlib

import numpy as np

from ..masks.ica import IcaSettings, ica_masks
from ..masks.randomise import randomise
from ..training.checkpoint import mask_fingerprint
from ..training.network import linked_genes

PCA_ROWS = 20_000  # rows of the pool an ICA wiring or a PCA reference is fitted on, at most


def spaced(rows: np.ndarray, at_most: int = PCA_ROWS) -> np.ndarray:
    """At most ``at_most`` of ``rows``, evenly spaced (all of them when there are fewer)."""
    return rows[np.linspace(0, rows.size - 1, min(rows.size, at_most)).astype(int)]


class Wirings:
    """The data set's masks and ``cfg``'s wiring and null models."""

    def __init__(self, ds, cfg):
        self.ds, self.cfg = ds, cfg
        self.linked = linked_genes(ds.masks)
        self._by_pool = {}  # ICA wiring per pool (hash of its sorted rows)
        self._nulls = {}  # null draws per (kind, wiring)

    def of_pool(self, rows) -> object:
        """The wiring of a fit whose pool is ``rows``: the data set's masks, or (``cfg.wiring``) the independent
        components of those rows alone (centred per gene on them; at most PCA_ROWS rows evenly spaced), over
        the masks' genes. Computed once per pool."""
        w = self.cfg.wiring
        if not w:
            return self.ds.masks
        rows = np.sort(rows)
        key = hashlib.sha256(rows.tobytes()).hexdigest()
        if key not in self._by_pool:
            pool = np.asarray(self.ds.pretrain_source.take(spaced(rows)), dtype=np.float64)
            self._by_pool[key] = ica_masks(
                pool - pool.mean(axis=0),
                self.ds.masks,
                IcaSettings(components=w.components, seed=w.seed, min_genes=w.min_genes),
            )
        return self._by_pool[key]

    def nulls(self, kind: str, masks=None) -> list:
        """The ``cfg.nulls.draws`` randomised copies of ``masks`` (default: the data set's; a fit's own wiring
        under ``cfg.wiring``) of one null model, seeded by ``cfg.nulls.seed``."""
        masks = masks or self.ds.masks
        key = kind if masks is self.ds.masks else (kind, mask_fingerprint(masks))
        if key not in self._nulls:
            nulls = self.cfg.nulls
            self._nulls[key] = [randomise(masks, kind, nulls.seed, d) for d in range(nulls.draws)]
        return self._nulls[key]

    def linked_of(self, masks) -> np.ndarray:
        """The genes ``masks`` link to a node (the data set's: computed once)."""
        return self.linked if masks is self.ds.masks else linked_genes(masks)
