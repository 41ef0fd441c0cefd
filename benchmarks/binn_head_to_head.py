"""BINN's own example, head to head: the ``binn`` package (PyTorch) and sparsenet on the same folds, in one run.

    python benchmarks/binn_head_to_head.py --binn-python PATH/TO/python [--repeats 3] [--json FILE]

``--binn-python`` is an interpreter that has ``binn`` 0.1.1 and ``torch`` (CPU wheel) installed, e.g. a venv made
with ``pip install torch==2.13.0 binn==0.1.1`` — a peer for this benchmark only, never a dependency of sparsenet.

Data: BINN's example (554 plasma proteins x 197 samples, groups 1/2), missing values 0 (as BINN's loader).
Folds: stratified 5-fold, repeated (``--repeats``), the same (train, test) indices for both; inputs standardised
on each fold's training samples for both (BINN's own loader standardises all samples at once; here neither sees
the test samples). BINN: its README's settings — ``BINN(data_matrix, network_source="reactome", n_layers=4,
dropout=0.2)``, ``BINNTrainer.fit(num_epochs=100)`` (its default learning rate, 1e-4), batch 32, cross-entropy
over 2 outputs — one fresh network per fold (weights re-initialised as its constructor does, seeded by the fold).
sparsenet: ``sparsenet classify``'s defaults on the Reactome hierarchy built over the same proteins (4 levels,
tanh, dropout 0.2, batch 32, 100 epochs, learning rate 1e-2, weight decay 1e-3). Seconds per fit: the training
of one network (both), timed in each process; building the network from Reactome is reported apart.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BINN_SIDE = r"""
import contextlib, io, json, sys, time
import numpy as np, pandas as pd, torch
from torch.utils.data import DataLoader, TensorDataset
import binn
from binn import BINN, BINNTrainer
from binn.model.binn import _init_weights

job = json.load(open(sys.argv[1]))
torch.set_num_threads(job["threads"])
dm = pd.read_csv(job["data"])
t0 = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    model = BINN(data_matrix=dm, network_source="reactome", n_layers=4, dropout=0.2)
build = time.perf_counter() - t0
X = np.asarray(job["X"], dtype=np.float64)
where = {p: i for i, p in enumerate(job["features"])}
cols = [where.get(p, -1) for p in model.inputs]
Xb = np.zeros((X.shape[0], len(cols)))
for j, c in enumerate(cols):
    if c >= 0:
        Xb[:, j] = X[:, c]
y = np.asarray(job["y"], dtype=np.int64)
out = {"build_seconds": build, "inputs": len(model.inputs),
       "layer_sizes": [int(m.shape[1]) for m in model.connectivity_matrices[:4]], "folds": [],
       "binn_version": getattr(binn, "__version__", "0.1.1"), "torch_version": torch.__version__}
state = {k: v.clone() for k, v in model.state_dict().items()}
for f, (train, test) in enumerate(job["folds"]):
    train, test = np.asarray(train), np.asarray(test)
    mean, sd = Xb[train].mean(0), Xb[train].std(0)
    sd[sd == 0] = 1
    xtr = torch.tensor((Xb[train] - mean) / sd, dtype=torch.float32)
    xte = torch.tensor((Xb[test] - mean) / sd, dtype=torch.float32)
    torch.manual_seed(f)
    model.load_state_dict(state)
    model.apply(_init_weights)  # a fresh network, as the constructor makes one (the pruning masks stay)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.reset_parameters(); m.reset_running_stats()
    loader = {"train": DataLoader(TensorDataset(xtr, torch.tensor(y[train])), batch_size=32, shuffle=True)}
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        BINNTrainer(model).fit(loader, num_epochs=100)
    seconds = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        p = torch.softmax(model(xte), dim=1)[:, 1].numpy()
    out["folds"].append({"seconds": seconds, "p": p.tolist()})
json.dump(out, open(sys.argv[2], "w"))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binn-python", required=True, help="a python with binn 0.1.1 and torch installed")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from sklearn.metrics import roc_auc_score

    from sparsenet.data.labelled import binn_example
    from sparsenet.masks.reactome import reactome_hierarchy
    from sparsenet.masks.store import shipped_file
    from sparsenet.studies import classification as study

    table = binn_example("zero")
    t0 = time.perf_counter()
    h = reactome_hierarchy(table.feature_ids, 4, progress=lambda m: None)
    build = time.perf_counter() - t0
    classes, codes = study.encode_classes(table.labels)
    folds = study.class_folds(codes, 5, args.repeats, args.seed)
    settings = study.ClassificationSettings(5, args.repeats, args.seed, baselines=("logistic_all",))
    ours = study.cross_validate(table.X, table.labels, h.masks, settings)
    # BINN in its own process, the same folds and inputs
    with tempfile.TemporaryDirectory() as tmp:
        job, result = Path(tmp) / "job.json", Path(tmp) / "binn.json"
        json.dump(
            {
                "data": str(shipped_file("binn_example/sample_datamatrix.csv")),
                "X": table.X.tolist(),
                "features": table.feature_ids,
                "y": codes.tolist(),
                "threads": os.cpu_count() or 1,
                "folds": [(tr.tolist(), te.tolist()) for tr, te in folds],
            },
            job.open("w"),
        )
        (Path(tmp) / "binn_side.py").write_text(BINN_SIDE)
        done = subprocess.run(
            [args.binn_python, str(Path(tmp) / "binn_side.py"), str(job), str(result)], capture_output=True, text=True
        )
        if done.returncode != 0:
            sys.exit(f"the binn side failed:\n{done.stderr[-2000:]}")
        theirs = json.loads(result.read_text())
    binn_auc = [float(roc_auc_score(codes[te], f["p"])) for (_, te), f in zip(folds, theirs["folds"], strict=True)]
    binn_seconds = [f["seconds"] for f in theirs["folds"]]
    our_auc = ours["models"]["network"]["roc_auc"]["per_fold"]
    our_seconds = ours["network_seconds_per_fit"]
    record = {
        "what": "BINN's example, binn 0.1.1 (PyTorch) and sparsenet on the same folds and inputs",
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, no GPU",
        "folds": f"stratified 5-fold x {args.repeats}, seed {args.seed}",
        "binn": {
            "auc_mean": float(np.mean(binn_auc)),
            "auc_sd": float(np.std(binn_auc, ddof=1)),
            "auc_per_fold": binn_auc,
            "seconds_per_fit_median": float(np.median(binn_seconds)),
            "seconds_per_fit": binn_seconds,
            "build_seconds": theirs["build_seconds"],
            "inputs": theirs["inputs"],
            "layer_sizes": theirs["layer_sizes"],
            "torch": theirs["torch_version"],
            "settings": "n_layers 4, tanh, dropout 0.2, batch norm, batch 32, 100 epochs, Adam lr 1e-4",
        },
        "sparsenet": {
            "auc_mean": float(np.mean(our_auc)),
            "auc_sd": float(np.std(our_auc, ddof=1)),
            "auc_per_fold": our_auc,
            "seconds_per_fit_median": our_seconds["median"],
            "build_seconds": build,
            "inputs": int(study.wiring_features(h.masks).size),
            "layer_sizes": h.level_sizes(),
            "settings": "4 levels, tanh, dropout 0.2, no batch norm, batch 32, 100 epochs, Adam lr 1e-2, "
            "weight decay 1e-3",
        },
        "logistic_all_auc_mean": ours["models"]["logistic_all"]["roc_auc"]["mean"],
    }
    record["speedup_per_fit"] = record["binn"]["seconds_per_fit_median"] / record["sparsenet"]["seconds_per_fit_median"]
    record["auc_difference_paired"] = {
        "mean": float(np.mean(np.subtract(our_auc, binn_auc))),
        "sd": float(np.std(np.subtract(our_auc, binn_auc), ddof=1)),
    }
    print(f"BINN's example, stratified 5-fold x {args.repeats} (same folds):")
    for name in ("binn", "sparsenet"):
        r = record[name]
        print(
            f"  {name:9}: ROC AUC {r['auc_mean']:.4f} ± {r['auc_sd']:.4f}, {r['seconds_per_fit_median']:.3f} s a fit "
            f"(median), network built in {r['build_seconds']:.1f} s, levels {r['layer_sizes']}"
        )
    print(
        f"  sparsenet is {record['speedup_per_fit']:.1f}x faster per fit; AUC difference (sparsenet - binn) "
        f"{record['auc_difference_paired']['mean']:+.4f} ± {record['auc_difference_paired']['sd']:.4f}; "
        f"logistic regression {record['logistic_all_auc_mean']:.4f}"
    )
    if args.json:
        args.json.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
