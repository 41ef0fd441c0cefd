"""Checkpoints (HDF5): weights, the masks' IDs and structure, normalisation, the run's config.

Written atomically (temporary file + rename), so a killed run leaves the previous checkpoint
intact. A checkpoint carries a fingerprint of its masks; loading it against other masks fails
with a clear message instead of silently mis-wiring genes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import h5py
import numpy as np
import scipy.sparse as sp

from ..atomic import write_atomically
from ..data.normalise import Normalisation
from ..h5io import decode_strings, encode_strings, open_checked, read_sparse, write_sparse
from ..masks.store import Masks
from ..data.standardise import InputTransform
from .network import Architecture, Ensemble, build_autoencoder, build_encoder

FORMAT = "sparsenet-checkpoint/1"


def mask_fingerprint(masks: Masks) -> str:
    h = hashlib.sha256()
    for ids in (masks.gene_ids, masks.protein_ids, masks.phenotype_ids):
        h.update("\x1f".join(ids).encode() + b"\x1e")
    for m in (masks.gene_protein, masks.protein_phenotype):
        m = sp.csr_matrix(m)
        h.update(
            np.asarray(m.shape, np.int64).tobytes()
            + m.indptr.astype(np.int64).tobytes()
            + m.indices.astype(np.int64).tobytes()
        )
    return h.hexdigest()[:16]


@dataclass
class Checkpoint:
    strategy: str
    params: dict  # 'layer.name' -> array, over the whole autoencoder
    masks: Masks
    normalisation: Normalisation
    targets: list  # fine-tuned phenotype reaction IDs
    target_columns: list  # their column names in the phenotype table
    config: dict = field(default_factory=dict)
    progress: dict = field(default_factory=dict)  # stage, step, fold ... (resume)
    extra: dict = field(default_factory=dict)  # arrays: optimiser state, losses ...


def save_checkpoint(path, ck: Checkpoint) -> None:
    def write(tmp):
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["strategy"] = ck.strategy
            f.attrs["config"] = json.dumps(ck.config)
            f.attrs["progress"] = json.dumps(ck.progress)
            f.attrs["mask_fingerprint"] = mask_fingerprint(ck.masks)
            p = f.create_group("params")
            for k, v in ck.params.items():
                p.create_dataset(k, data=np.asarray(v))
            m = f.create_group("masks")
            for name in ("gene_ids", "protein_ids", "phenotype_ids", "phenotype_names", "gene_names"):
                if getattr(ck.masks, name):
                    m.create_dataset(name, data=encode_strings(getattr(ck.masks, name)))
            for name in ("gene_protein", "protein_phenotype"):
                write_sparse(m.create_group(name), getattr(ck.masks, name))
            n = f.create_group("normalisation")
            n.attrs["clip"], n.attrs["scale"] = ck.normalisation.clip, ck.normalisation.scale
            n.attrs["transform"] = ck.normalisation.transform
            n.create_dataset("reference", data=encode_strings(ck.normalisation.reference))
            if ck.normalisation.reference_profile is not None:
                n.create_dataset("reference_profile", data=ck.normalisation.reference_profile)
            f.create_dataset("targets", data=encode_strings(ck.targets))
            f.create_dataset("target_columns", data=encode_strings(ck.target_columns))
            e = f.create_group("extra")
            for k, v in ck.extra.items():
                e.create_dataset(k, data=np.asarray(v))

    write_atomically(path, write)


def load_checkpoint(path) -> Checkpoint:
    with open_checked(path, FORMAT, "checkpoint") as f:
        m = f["masks"]
        names = "phenotype_names" if "phenotype_names" in m else "phenotype_ids"  # older checkpoints: IDs
        masks = Masks(
            decode_strings(m["gene_ids"]),
            decode_strings(m["protein_ids"]),
            decode_strings(m["phenotype_ids"]),
            decode_strings(m[names]),
            read_sparse(m["gene_protein"]),
            read_sparse(m["protein_phenotype"]),
            gene_names=decode_strings(m["gene_names"]) if "gene_names" in m else [],
        )
        n = f["normalisation"]
        norm = Normalisation(
            decode_strings(n["reference"]),
            n["reference_profile"][()] if "reference_profile" in n else None,
            float(n.attrs["clip"]),
            float(n.attrs["scale"]),
            str(n.attrs.get("transform", "none")),
        )
        ck = Checkpoint(
            str(f.attrs["strategy"]),
            {k: v[()] for k, v in f["params"].items()},
            masks,
            norm,
            decode_strings(f["targets"]),
            decode_strings(f["target_columns"]),
            json.loads(f.attrs["config"]),
            json.loads(f.attrs["progress"]),
            {k: v[()] for k, v in f["extra"].items()},
        )
        stored = str(f.attrs["mask_fingerprint"])
    if mask_fingerprint(ck.masks) != stored:
        raise ValueError(f"{path}: corrupt checkpoint (its masks do not match their fingerprint)")
    return ck


def architecture_of(ck: Checkpoint) -> Architecture:
    return Architecture(**ck.config.get("architecture", {}))


def input_transform_of(ck: Checkpoint) -> InputTransform:
    """The per-gene input transform the final model was trained with (raw for older checkpoints)."""
    how = ck.config.get("inputs", "raw")
    n = len(ck.masks.gene_ids)
    return InputTransform(
        how,
        np.asarray(ck.extra.get("input_mean", np.zeros(n)), float),
        np.asarray(ck.extra.get("input_sd", np.ones(n)), float),
    )


def target_indices(ck: Checkpoint) -> list:
    """Each target's node in the phenotype layer; -1 for a target that is no node (a column read out of
    all nodes, e.g. growth on a regulatory network)."""
    node = {p: i for i, p in enumerate(ck.masks.phenotype_ids)}
    return [node.get(t, -1) for t in ck.targets]


def member_prefix(k: int) -> str:
    """Where an ensemble's member k keeps its parameters in a checkpoint: member 0 under the plain names
    (what links.csv and single-network checkpoints use), member k > 0 under 'member{k}:'."""
    return f"member{k}:" if k else ""


def encoder_from_checkpoint(ck: Checkpoint, device: str = "cpu"):
    """The checkpoint's encoder (genes -> phenotypes [-> read-out]; an Ensemble when it holds several
    members), ready to predict on ``device``, and the output columns of its targets."""
    arch = architecture_of(ck)
    indices = target_indices(ck)
    members = []
    for k in range(int(ck.config.get("ensemble", 1))):
        prefix = member_prefix(k)
        own = {
            name[len(prefix) :]: v
            for name, v in ck.params.items()
            if name.startswith(prefix) and (k or not name.startswith("member"))
        }
        net = build_autoencoder(ck.masks, ck.strategy, 0, "cpu", arch)
        net.load_state_dict({name: v for name, v in own.items() if not name.startswith("head.")})
        encoder, columns = build_encoder(net, arch, indices)
        if arch.head == "readout":
            for name, p in encoder.layers[-1].params.items():
                p[...] = np.asarray(own[f"head.{name}"]).reshape(p.shape)
        members.append(encoder)
    encoder = members[0] if len(members) == 1 else Ensemble(members)
    return encoder.to(device), columns


def check_same_masks(ck: Checkpoint, masks: Masks, path) -> None:
    if mask_fingerprint(ck.masks) != mask_fingerprint(masks):
        raise ValueError(
            f"{path}: checkpoint was trained with different masks ({len(ck.masks.phenotype_ids)} "
            f"phenotypes, {ck.masks.protein_phenotype.nnz} links; these have "
            f"{len(masks.phenotype_ids)} and {masks.protein_phenotype.nnz}); use the masks it was "
            "trained with or a fresh --out"
        )
