"""links.csv: every biological link of a trained model (gene -> protein -> phenotype node [-> target]),
its learned weights as the mean and spread over the ensemble's networks, and for a read-out head the
weight of each node on each target and of each gene, through its node, on the target.

Zeros are written as zeros: the L2 penalty pulls a link the data do not use toward 0 geometrically
(at the optimum a weight is its data gradient / (l2 * n)), so what is left of such a link after
fine-tuning is round-off. A weight is written as 0 when its magnitude is below ``ZERO_TOLERANCE``
times the largest magnitude in its layer (per network, before averaging).
"""
from __future__ import annotations

import csv
import io

import numpy as np

from ..training.checkpoint import architecture_of, member_prefix
from ..training.network import is_identity

ZERO_TOLERANCE = 1e-6  # relative to the largest |weight| of the same layer in the same network


def member_parameters(ck) -> list:
    """Each ensemble member's parameters under their plain names ('0.weight', 'head.weight', ...)."""
    k_members = int(ck.config.get("ensemble", 1))
    out = []
    for k in range(k_members):
        prefix = member_prefix(k)
        out.append({name[len(prefix):]: np.asarray(v, float) for name, v in ck.params.items()
                    if name.startswith(prefix) and (k or not name.startswith("member"))})
    return out


def _zeroed(v: np.ndarray) -> np.ndarray:
    top = float(np.max(np.abs(v))) if v.size else 0.0
    return np.where(np.abs(v) < ZERO_TOLERANCE * top, 0.0, v)


def _mean_sd(stack: np.ndarray):
    mean = stack.mean(axis=0)
    sd = stack.std(axis=0, ddof=1) if stack.shape[0] > 1 else np.full(stack.shape[1:], np.nan)
    return mean, sd


def link_table(ck) -> dict:
    """Column name -> array over links (one row per gene -> protein -> phenotype link)."""
    if ck.strategy == "A":
        raise ValueError("strategy A is fully connected: its weights are not biological links")
    m = ck.masks
    pp, gp = m.protein_phenotype.tocsr(), m.gene_protein.tocsr()
    identity = is_identity(gp)
    rows = np.repeat(np.arange(pp.shape[0]), np.diff(pp.indptr))  # phenotype of each pp nonzero
    genes_of = [(gp.indices[gp.indptr[p]:gp.indptr[p + 1]], np.arange(gp.indptr[p], gp.indptr[p + 1]))
                for p in range(gp.shape[0])]
    link_kk, link_gene, link_gp = [], [], []
    for kk, p in enumerate(pp.indices):
        g, pos = genes_of[p]
        link_kk += [kk] * len(g)
        link_gene += list(g)
        link_gp += list(g if identity else pos)
    link_kk, link_gene, link_gp = (np.asarray(a, dtype=np.int64) for a in (link_kk, link_gene, link_gp))
    link_row, link_protein = rows[link_kk], pp.indices[link_kk]
    arch = architecture_of(ck)
    readout = arch.head == "readout"
    gp_w, pp_w, bias, eff, head = [], [], [], [], []
    for params in member_parameters(ck):
        scale_name = "0.scale" if "0.scale" in params else "0.weight"
        phen = "0" if "0.scale" in params else "1"
        s = _zeroed(params[scale_name])[link_gp]
        w = _zeroed(params[f"{phen}.weight"])[link_kk]
        gp_w.append(s)
        pp_w.append(w)
        bias.append(params.get(f"{phen}.bias", np.zeros(pp.shape[0]))[link_row])
        eff.append(_zeroed(params[scale_name][link_gp] * params[f"{phen}.weight"][link_kk]))
        if readout:
            head.append(_zeroed(params["head.weight"]))  # targets x phenotype nodes
    table = {
        "gene": [m.gene_ids[g] for g in link_gene],
        "gene_name": [m.gene_label(int(g)) for g in link_gene],
        "protein": [m.protein_ids[p] for p in link_protein],
        "phenotype": [m.phenotype_ids[r] for r in link_row],
        "phenotype_name": [(m.phenotype_names or m.phenotype_ids)[r] for r in link_row],
    }
    for name, stack in (("gene_protein_weight", gp_w), ("protein_phenotype_weight", pp_w),
                        ("gene_phenotype_weight", eff), ("phenotype_bias", bias)):
        table[name], table[f"{name}_sd"] = _mean_sd(np.stack(stack))
    if readout:
        heads = np.stack(head)  # members x targets x nodes
        for t, (col, target) in enumerate(zip(ck.target_columns, ck.targets)):
            table[f"readout_weight [{col}]"], table[f"readout_weight_sd [{col}]"] = _mean_sd(heads[:, t, link_row])
            path = np.stack(eff) * heads[:, t, link_row]  # the gene's weight on the target through this node
            table[f"gene_to_target [{col}]"], table[f"gene_to_target_sd [{col}]"] = _mean_sd(path)
    table["networks"] = np.full(link_kk.size, len(gp_w))
    return table


def links_csv(ck) -> str:
    """links.csv's text: one row per link, the columns of :func:`link_table`."""
    table = link_table(ck)
    buf = io.StringIO()
    w = csv.writer(buf)
    names = list(table)
    w.writerow(names)
    columns = [table[n] for n in names]
    for i in range(len(columns[0])):
        w.writerow([_cell(c[i]) for c in columns])
    return buf.getvalue()


def _cell(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (np.integer, int)):
        return str(int(v))
    return "" if not np.isfinite(v) else ("0" if v == 0 else f"{v:.6g}")
