"""The DeepMetabolism networks of the three strategies, built from the masks.

genes -> proteins (one-to-one, linear, no bias) -> phenotypes (mask, bias, softplus)
      -> proteins (transposed mask, bias, softplus) -> genes (one-to-one transposed, linear)

A: every layer fully connected, no pre-training. B: masks, no pre-training. C: masks and
pre-training. The encoder (genes -> proteins -> phenotypes; ``net.n_encoder`` layers) is the
part that is fine-tuned and predicts. With a one-to-one gene->protein mask, that layer is
folded into the phenotype layer as its input scale (``MaskedLinear(input_scale=True)``):
the same function, without materialising the protein activations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..allowed import one_of
from ..engine import DenseLinear, MaskedLinear, OneToOne, Sequential, Softplus
from ..masks.store import is_identity, linked_genes  # noqa: F401  (re-exported: what training calls them)

STRATEGIES = {"A": "fully connected, no pre-training", "B": "masks, no pre-training", "C": "masks + pre-training"}
STRATEGY_WORDS = {
    "A": "dense network, no pre-training",
    "B": "wired network, no pre-training",
    "C": "wired network, pre-trained",
}  # plot titles and file descriptions


DECODERS = {
    "softplus": "the paper's: gene = d * softplus(protein); one sign per gene",
    "linear": "gene = d * protein, protein = W h + b: sign-free, a bias per gene",
}
HEADS = {
    "node": "the paper's: the target's own node of the phenotype layer",
    "readout": "a linear read-out of every phenotype node (phenotype layer -> targets)",
}


@dataclass(frozen=True)
class Architecture:
    """What may change while the gene -> protein -> phenotype wiring from the masks stays."""

    decoder: str = "softplus"
    head: str = "node"

    def __post_init__(self):
        one_of("decoder", self.decoder, DECODERS)
        one_of("head", self.head, HEADS)


def build_autoencoder(
    masks, strategy: str, seed: int = 0, device: str = "cpu", architecture: Architecture | None = None
) -> Sequential:
    arch = architecture or Architecture()
    one_of("strategy", strategy, STRATEGIES)
    n_genes, n_proteins = len(masks.gene_ids), len(masks.protein_ids)
    n_phen = len(masks.phenotype_ids)
    if strategy == "A":
        layers = [
            DenseLinear(n_genes, n_proteins, bias=False, seed=seed),
            DenseLinear(n_proteins, n_phen, seed=seed + 1),
            Softplus(),
            DenseLinear(n_phen, n_proteins, seed=seed + 2),
            Softplus(),
            DenseLinear(n_proteins, n_genes, bias=False, seed=seed + 3),
        ]
    else:
        gp, pp = masks.gene_protein, masks.protein_phenotype
        one_to_one = is_identity(gp)
        if one_to_one:  # the one-to-one gene->protein layer folded into the phenotype layer
            # the decoder's softplus is its own layer so that pre-training can fuse it with the
            # last one-to-one layer and the loss (pretrain.reconstruction_step); same function
            decoder_act = [Softplus()] if arch.decoder == "softplus" else []
            layers = [
                MaskedLinear(pp, activation="softplus", seed=seed + 1, input_scale=True),
                MaskedLinear(pp.T, seed=seed + 2),
                *decoder_act,
                OneToOne(n_genes),
            ]
        else:
            decoder_act = "softplus" if arch.decoder == "softplus" else None
            layers = [
                MaskedLinear(gp, bias=False, seed=seed),
                MaskedLinear(pp, activation="softplus", seed=seed + 1),
                MaskedLinear(pp.T, activation=decoder_act, seed=seed + 2),
                MaskedLinear(gp.T, bias=False, seed=seed + 3),
            ]
    net = Sequential(layers).to(device)
    net.n_encoder = 3 if strategy == "A" else (1 if one_to_one else 2)  # layers from genes to phenotypes
    return net


def build_encoder(net: Sequential, architecture: Architecture | None, target_indices, seed: int = 0):
    """The part that predicts: genes -> phenotype layer, and with ``head='readout'`` a linear read-out
    of every phenotype node into the targets. Returns (encoder, output columns of the targets)."""
    arch = architecture or Architecture()
    layers = net.layers[: net.n_encoder]
    if arch.head == "node" and np.any(np.asarray(target_indices) < 0):
        raise ValueError(
            "a target is not a node of the masks: read it out of all nodes (--head readout) "
            "or map it to a node (--map COLUMN=NODE_ID)"
        )
    if arch.head == "node":
        return Sequential(layers), np.asarray(target_indices, dtype=np.int64)
    n_targets = len(target_indices)
    width = next(layer.out_features for layer in reversed(layers) if layer.out_features is not None)
    head = DenseLinear(width, n_targets, seed=seed + 7).to(net.device)
    return Sequential(layers + [head]), np.arange(n_targets, dtype=np.int64)


class Ensemble:
    """The mean output of several encoders of the same shape (members trained from different seeds).

    Has what prediction needs of a Sequential: ``forward(x)`` and ``device``."""

    def __init__(self, members):
        self.members = list(members)
        if not self.members:
            raise ValueError("Ensemble: needs at least one member")

    @property
    def device(self) -> str:
        return self.members[0].device

    def forward(self, x, check: bool = True):
        total = None
        for member in self.members:
            out = member.forward(x, check=check)
            total = out.astype(np.float64) if total is None else total + out
        return (total / len(self.members)).astype(out.dtype)

    def to(self, device: str):
        self.members = [m.to(device) for m in self.members]
        return self


def freeze_gene_protein(encoder, frozen: bool = True) -> None:
    """Hold the gene->protein weights fixed (the fused input scale, or the whole first layer); with
    ``frozen=False``, release every layer of the encoder."""
    first = encoder.layers[0]
    if not frozen:
        for layer in encoder.layers:
            layer.trainable = True
    if "scale" in first.params:
        first.frozen = {"scale"} if frozen else set()
    else:
        first.trainable = not frozen
