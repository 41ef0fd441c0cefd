"""links.csv: every biological link of a trained model (gene -> protein -> phenotype node [-> target]),
its learned weights as the mean and spread over the ensemble's networks, and for a read-out head the
weight of each node on each target and of each gene, through its node, on the target.

From a run folder (``train`` or ``control``) the same links also get their weight on each target
over every fold's networks (mean and sd over folds, ensemble members and network seeds: a link
whose weight changes sign from fold to fold is not a finding), and where a control was run, each
link's percentile among the weights of the links into the same phenotype node in the null
wirings' networks, fold by fold: a link at the 50th percentile weighs what chance wiring weighs.

Zeros are written as zeros: the L2 penalty pulls a link the data do not use toward 0 geometrically
(at the optimum a weight is its data gradient / (l2 * n)), so what is left of such a link after
fine-tuning is round-off. A weight is written as 0 when its magnitude is below ``ZERO_TOLERANCE``
times the largest magnitude in its layer (per network, before averaging).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from .. import backend
from ..allowed import one_of
from ..training.checkpoint import architecture_of, member_prefix
from ..training.network import is_identity

ZERO_TOLERANCE = 1e-6  # relative to the largest |weight| of the same layer in the same network


def member_parameters(ck) -> list:
    """Each ensemble member's parameters under their plain names ('0.weight', 'head.weight', ...)."""
    k_members = int(ck.config.get("ensemble", 1))
    out = []
    for k in range(k_members):
        prefix = member_prefix(k)
        out.append(
            {
                name[len(prefix) :]: np.asarray(v, float)
                for name, v in ck.params.items()
                if name.startswith(prefix) and (k or not name.startswith("member"))
            }
        )
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
    genes_of = [
        (gp.indices[gp.indptr[p] : gp.indptr[p + 1]], np.arange(gp.indptr[p], gp.indptr[p + 1]))
        for p in range(gp.shape[0])
    ]
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
    for name, stack in (
        ("gene_protein_weight", gp_w),
        ("protein_phenotype_weight", pp_w),
        ("gene_phenotype_weight", eff),
        ("phenotype_bias", bias),
    ):
        table[name], table[f"{name}_sd"] = _mean_sd(np.stack(stack))
    if readout:
        heads = np.stack(head)  # members x targets x nodes
        for t, col in enumerate(ck.target_columns):
            table[f"readout_weight [{col}]"], table[f"readout_weight_sd [{col}]"] = _mean_sd(heads[:, t, link_row])
            path = np.stack(eff) * heads[:, t, link_row]  # the gene's weight on the target through this node
            table[f"gene_to_target [{col}]"], table[f"gene_to_target_sd [{col}]"] = _mean_sd(path)
    table["networks"] = np.full(link_kk.size, len(gp_w))
    return table


def _identity_columns(masks) -> dict:
    """gene, gene_name, protein, phenotype, phenotype_name of every link, in the phenotype layer's CSR order
    (one-to-one gene -> protein masks)."""
    pp = masks.protein_phenotype.tocsr()
    nodes = np.repeat(np.arange(pp.shape[0]), np.diff(pp.indptr))
    names = masks.phenotype_names or masks.phenotype_ids
    return {
        "gene": [masks.gene_ids[g] for g in pp.indices],
        "gene_name": [masks.gene_label(int(g)) for g in pp.indices],
        "protein": [masks.protein_ids[g] for g in pp.indices],
        "phenotype": [masks.phenotype_ids[r] for r in nodes],
        "phenotype_name": [names[r] for r in nodes],
    }


def run_link_table(folder) -> dict:
    """links.csv's columns for a run folder: the final model's (when it has one) and every link's weight on
    each target over the folds' networks, with its null percentiles where a control was run."""
    from ..masks.store import read_masks
    from ..training.checkpoint import load_checkpoint, mask_fingerprint
    from .fold_state import read_fold

    folder = Path(folder)
    report_file = folder / "report.json"
    if not report_file.exists():
        raise ValueError(
            f"{folder}: no report.json; give a finished run folder of sparsenet train or control, or its model.h5"
        )
    report = json.loads(report_file.read_text())
    masks = read_masks(report["masks"]["file"])
    if mask_fingerprint(masks) != report["masks"]["fingerprint"]:
        raise ValueError(f"{report['masks']['file']}: not the masks {folder} was trained with (fingerprint differs)")
    settings = report["settings"]
    if settings.get("wiring"):
        raise ValueError(
            f"{folder}: every fold has its own wiring (--wiring "
            f"{settings['wiring']['kind']}), so links do "
            f"not line up across folds; give {folder / 'model.h5'} for the final model's links"
        )
    scheme = settings["cv"][0]
    strategy = report.get("control", {}).get("strategy") or next(
        (s for s in ("C", "B") if s in settings["strategies"]), settings["strategies"][0]
    )
    columns = list(next(iter(report["results"].values()))["phenotypes"])
    folds = sorted((folder / "state").glob(f"{scheme}-{strategy}-s*-fold*.h5"))
    weights = [read_fold(f).link_weights for f in folds]
    weights = [w for w in weights if w is not None]
    if not weights:
        raise ValueError(
            f"{folder}: its folds kept no link weights (strategy A, gene -> protein rules, or a run "
            "from before sparsenet kept them)"
        )
    table = (
        link_table(load_checkpoint(folder / "model.h5")) if (folder / "model.h5").exists() else _identity_columns(masks)
    )
    every = np.concatenate(weights).astype(np.float64)  # (fold networks, targets, links)
    for k in range(every.shape[0]):  # round-off of links the penalty pulled to 0 is 0, per network, as below
        for t in range(every.shape[1]):
            every[k, t] = _zeroed(every[k, t])
    mean, sd = every.mean(axis=0), every.std(axis=0, ddof=1)
    nodes = np.repeat(np.arange(masks.protein_phenotype.shape[0]), np.diff(masks.protein_phenotype.tocsr().indptr))
    kinds = list(report.get("control", {}).get("null_models", {}))
    percentiles = {}
    for kind in kinds:
        draws = [read_fold(f) for f in sorted((folder / "state").glob(f"{scheme}-null-{kind}-s*-fold*.h5"))]
        null_nodes = [
            np.repeat(np.arange(m.protein_phenotype.shape[0]), np.diff(m.protein_phenotype.tocsr().indptr))
            for m in (
                read_masks(folder / "null_masks" / f"{kind}-{d:03d}.h5")
                for d in range(len(draws[0].link_weights_draws))
            )
        ]
        pairs = [(rec.link_weights_draws[d], null_nodes[d]) for rec in draws for d in range(len(null_nodes))]
        percentiles[kind] = null_percentiles(mean, nodes, pairs)
    for t, col in enumerate(columns):
        table[f"weight_over_folds [{col}]"] = mean[t]
        table[f"weight_over_folds_sd [{col}]"] = sd[t]
        table[f"folds_same_sign [{col}]"] = np.mean(np.sign(every[:, t]) == np.sign(mean[t]), axis=0)
        for kind in kinds:
            table[f"null_percentile_{kind} [{col}]"] = percentiles[kind][t]
    table["fold_networks"] = np.full(mean.shape[1], every.shape[0])
    return table


def links_csv(ck) -> str:
    """links.csv's text: one row per link, the columns of :func:`link_table`."""
    return table_csv(link_table(ck))


def table_csv(table: dict) -> str:
    """One row per link, the table's columns in order."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
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


def encoder_link_weights(encoder) -> np.ndarray | None:
    """Each network's weight of every link on each target, (networks, targets, links) with the links in the
    first layer's CSR order (node by node): the gene -> node weight (input scale x weight) times the node's
    read-out weight (read-out head), or the gene -> node weight (node head). None for an encoder whose first
    layer has no folded gene -> protein scale (dense A, gene -> protein rules)."""
    out = []
    for e in getattr(encoder, "members", [encoder]):
        first = e.layers[0]
        if "scale" not in first.params:
            return None
        eff = np.asarray(backend.to_numpy(first.effective_weight()), dtype=np.float64)
        nodes = np.repeat(np.arange(first.out_features), np.diff(backend.to_numpy(first.indptr)))
        if len(e.layers) > 1:
            head = np.asarray(backend.to_numpy(e.layers[-1].params["weight"]), dtype=np.float64)
            out.append(eff[None, :] * head[:, nodes])
        else:
            out.append(eff[None, :])
    return np.stack(out).astype(np.float32)


def null_percentiles(real: np.ndarray, real_nodes: np.ndarray, null_draws: list) -> np.ndarray:
    """Each real link's |weight| as a percentile (0-100) of the |weights| of the null networks' links into the
    same node. ``real`` (targets, links); ``null_draws``: (weights (targets, links), nodes (links)) per draw
    and fold. Returns (targets, links)."""
    out = np.full(real.shape, np.nan)
    pooled = {}
    for weights, nodes in null_draws:
        for t in range(weights.shape[0]):
            for node in np.unique(nodes):
                pooled.setdefault((t, node), []).append(np.abs(weights[t, nodes == node]))
    for t in range(real.shape[0]):
        for node in np.unique(real_nodes):
            chance = pooled.get((t, node))
            if not chance:
                continue
            chance = np.sort(np.concatenate(chance))
            mine = np.abs(real[t, real_nodes == node])
            out[t, real_nodes == node] = 100.0 * np.searchsorted(chance, mine, side="right") / chance.size
    return out


def gene_table(table: dict) -> dict:
    """links.csv's rows summed per gene, strongest first: on each target the summed |weight| of the gene's
    links (``gene_to_target`` of a model, ``weight_over_folds`` of a run folder), its number of links, the
    share of fold networks agreeing in sign with the mean (averaged over its links, weighted by |weight|)
    and the null percentile of its strongest link where a control was run."""
    genes = list(dict.fromkeys(table["gene"]))
    index = {g: i for i, g in enumerate(genes)}
    row = np.array([index[g] for g in table["gene"]])
    names = {g: n for g, n in zip(table["gene"], table.get("gene_name", [""] * len(row)), strict=True)}
    weight_cols = (
        [c for c in table if c.startswith("weight_over_folds [")]
        or [c for c in table if c.startswith("gene_to_target [")]
        or [c for c in table if c.startswith("weight_mean")]
    )
    out = {"gene": genes, "gene_name": [names[g] for g in genes], "links": np.bincount(row, minlength=len(genes))}
    first = None
    for c in weight_cols:
        target = c[c.index("[") :] if "[" in c else ""
        w = np.abs(np.asarray(table[c], dtype=np.float64))
        w = np.where(np.isfinite(w), w, 0.0)
        total = np.bincount(row, weights=w, minlength=len(genes))
        out[f"sum_abs_weight {target}".strip()] = total
        first = total if first is None else first
        same = f"folds_same_sign {target}"
        if same in table:
            agree = np.bincount(row, weights=w * np.asarray(table[same], float), minlength=len(genes))
            out[f"folds_same_sign {target}".strip()] = np.where(
                total > 0, agree / np.where(total > 0, total, 1), np.nan
            )
        for col in [x for x in table if x.startswith("null_percentile_") and x.endswith(target)]:
            strongest = np.full(len(genes), -1.0)
            pct = np.full(len(genes), np.nan)
            for i, (r, v) in enumerate(zip(row, w, strict=True)):
                if v > strongest[r]:
                    strongest[r], pct[r] = v, float(table[col][i])
            out[col.replace("null_percentile_", "null_percentile_strongest_link_")] = pct
    order = np.argsort(-first, kind="stable") if first is not None else np.arange(len(genes))
    return {k: [v[i] for i in order] if isinstance(v, list) else np.asarray(v)[order] for k, v in out.items()}


VIEWS = ("link", "gene")  # links.csv's rows: one per gene -> phenotype link, or one per gene


def links_of(source, by: str = "link") -> tuple[dict, str, str]:
    """``sparsenet links`` as a function: (the table, what its rows are, how the weights were gathered) of a
    model file or a finished run folder, one row per link (``by='link'``) or per gene, strongest first."""
    from pathlib import Path

    from ..training.checkpoint import load_checkpoint

    one_of("--by", by, VIEWS)
    source = Path(source)
    if source.is_dir():
        table = run_link_table(source)
        nulls = [c.split(" ")[0].removeprefix("null_percentile_") for c in table if c.startswith("null_percentile_")]
        how = f"weights over {int(table['fold_networks'][0])} fold networks (mean, sd, share of the same sign)" + (
            f", percentiles under the null wirings ({', '.join(dict.fromkeys(nulls))})" if nulls else ""
        )
    else:
        ck = load_checkpoint(source)
        table = link_table(ck)
        k = int(ck.config.get("ensemble", 1))
        how = (
            f"weights are the mean{' and sd' if k > 1 else ''} over {k} network{'s' if k > 1 else ''}, |w| below "
            f"{ZERO_TOLERANCE:g} of its layer's largest written as 0"
        )
    if by == "gene":
        return gene_table(table), "genes, strongest first", how
    return table, "links", how
