"""The masks file (HDF5): IDs, both masks as sparse index arrays, provenance attributes.

No cobra here: the engine and the training pipeline read masks without the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import h5py
import numpy as np
import scipy.sparse as sp

from ..h5io import decode_strings, encode_strings, open_checked, read_sparse, write_sparse

FORMAT = "sparsenet-masks/1"


def shipped_file(name: str) -> Path:
    """A file sparsenet ships (package data of ``sparsenet.shipped``: the repository's ``data/``), read through
    importlib.resources, so an installed wheel finds it as a checkout does."""
    return Path(str(resources.files("sparsenet.shipped").joinpath(name)))


@dataclass
class Masks:
    gene_ids: list
    protein_ids: list
    phenotype_ids: list
    phenotype_names: list
    gene_protein: sp.csr_matrix  # proteins x genes (one-to-one)
    protein_phenotype: sp.csr_matrix  # phenotypes x proteins
    screened_ids: list = field(default_factory=list)
    screened_status: list = field(default_factory=list)
    screened_optimum: np.ndarray = field(default_factory=lambda: np.zeros(0))
    screened_exact_optimum: np.ndarray = field(default_factory=lambda: np.zeros(0))
    attrs: dict = field(default_factory=dict)
    gene_names: list = field(default_factory=list)  # where the model names its genes (thrA for b0002); else empty
    source: str = ""  # the file it was read from (not stored): named in messages that point back to it

    def gene_label(self, i: int) -> str:
        """Gene ``i``'s name where the model gives one, else ''."""
        name = self.gene_names[i] if i < len(self.gene_names) else ""
        return "" if name == self.gene_ids[i] else name

    def summary(self) -> dict:
        pp = self.protein_phenotype
        return {
            "genes": len(self.gene_ids),
            "proteins": len(self.protein_ids),
            "phenotypes": len(self.phenotype_ids),
            "gene_protein_links": int(self.gene_protein.nnz),
            "protein_phenotype_links": int(pp.nnz),
            "genes_linked_to_no_phenotype": int(np.sum(np.diff(pp.tocsc().indptr) == 0)),
            "phenotypes_screened": len(self.screened_ids),
            "phenotypes_zero_optimum": int(sum(s == "zero" for s in self.screened_status)),
            "phenotypes_fragile": int(sum(s == "fragile" for s in self.screened_status)),
            "fragile": [i for i, s in zip(self.screened_ids, self.screened_status, strict=True) if s == "fragile"],
            "seconds": self.attrs.get("seconds"),
        }


def incidence(rows, cols, shape) -> sp.csr_matrix:
    """The 0/1 mask (int8, CSR, sorted indices) with a link at each (rows[k], cols[k])."""
    m = sp.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=shape)
    m.sort_indices()
    return m


def is_identity(m) -> bool:
    """Whether a 0/1 matrix is the identity (a one-to-one gene -> protein layer)."""
    m = sp.csr_matrix(m)
    return (
        m.shape[0] == m.shape[1]
        and m.nnz == m.shape[0]
        and np.array_equal(m.indices, np.arange(m.shape[0]))
        and np.array_equal(m.indptr, np.arange(m.shape[0] + 1))
    )


def linked_genes(masks: Masks) -> np.ndarray:
    """Genes that reach at least one phenotype (bool per gene): the others cannot be reconstructed
    through the phenotype layer, and carry no signal to any phenotype node."""
    reach = (sp.csr_matrix(masks.protein_phenotype) @ sp.csr_matrix(masks.gene_protein)).tocsc()
    return np.diff(reach.indptr) > 0


def write_masks(path, masks: Masks) -> None:
    with h5py.File(path, "w") as f:
        f.attrs["format"] = FORMAT
        for k, v in masks.attrs.items():
            f.attrs[k] = v
        for name in ("gene_ids", "protein_ids", "phenotype_ids", "phenotype_names", "screened_ids", "screened_status"):
            f.create_dataset(name, data=encode_strings(getattr(masks, name)))
        f.create_dataset("screened_optimum", data=np.asarray(masks.screened_optimum, dtype=np.float64))
        f.create_dataset("screened_exact_optimum", data=np.asarray(masks.screened_exact_optimum, dtype=np.float64))
        if masks.gene_names:
            f.create_dataset("gene_names", data=encode_strings(masks.gene_names))
        write_sparse(f.create_group("gene_protein"), masks.gene_protein)
        write_sparse(f.create_group("protein_phenotype"), masks.protein_phenotype)


def read_masks(path) -> Masks:
    """Read a masks file; ValueError naming the file for anything that is not one."""
    with open_checked(path, FORMAT, "masks file") as f:
        return Masks(
            gene_ids=decode_strings(f["gene_ids"]),
            protein_ids=decode_strings(f["protein_ids"]),
            phenotype_ids=decode_strings(f["phenotype_ids"]),
            phenotype_names=decode_strings(f["phenotype_names"]),
            gene_protein=read_sparse(f["gene_protein"]),
            protein_phenotype=read_sparse(f["protein_phenotype"]),
            screened_ids=decode_strings(f["screened_ids"]),
            screened_status=decode_strings(f["screened_status"]),
            screened_optimum=f["screened_optimum"][()],
            screened_exact_optimum=f["screened_exact_optimum"][()],
            attrs={k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()},
            gene_names=decode_strings(f["gene_names"]) if "gene_names" in f else [],
            source=str(path),
        )


def shipped_mask_path(model_name: str) -> Path:
    return shipped_file(f"{model_name}_masks.h5")
