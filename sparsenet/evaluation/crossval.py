"""Cross-validate strategies A/B/C on the same folds, resumable, then train the final model.

For each CV scheme (plain k-fold, grouped k-fold), each fold and each strategy:
  1. strategy C pre-trains the autoencoder on the expression pool minus the fold's held-out
     samples (held-out expression is never seen, not even unlabelled);
  2. the encoder is fine-tuned on the training samples' phenotypes;
  3. the held-out samples are predicted, and (C) reconstructed through the autoencoder.
Every finished fold is saved under ``state/``; pre-training checkpoints every few steps.
A killed run started again with the same settings picks up where it stopped.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import h5py
import numpy as np

from .. import backend
from ..atomic import write_atomically
from ..data.dataset import Dataset
from ..engine import Sequential
from ..training.checkpoint import Checkpoint, check_same_masks, load_checkpoint, save_checkpoint
from ..training.finetune import FinetuneSettings, default_lr, finetune, predict
from ..training.network import build_autoencoder, linked_genes
from ..training.pretrain import PretrainSettings, pretrain
from . import metrics
from .folds import grouped_kfold, kfold

SCHEMES = ("grouped", "kfold")


@dataclass
class RunConfig:
    strategies: list = field(default_factory=lambda: ["C"])
    cv: list = field(default_factory=lambda: ["grouped"])
    folds: int = 10
    group_by: str | None = "project"
    seed: int = 0
    device: str = "cpu"
    pretrain: PretrainSettings = field(default_factory=PretrainSettings)
    finetune: FinetuneSettings = field(default_factory=FinetuneSettings)
    final_model: bool = True
    noise: dict | None = None  # robustness: {"where": "pretrain"|"finetune"|"both", "percent": p}

    def to_dict(self) -> dict:
        return asdict(self)


def make_folds(ds: Dataset, scheme: str, k: int, seed: int):
    n = ds.labelled.size
    if scheme == "kfold":
        return kfold(n, min(k, n), seed)
    if ds.groups is None:
        raise ValueError("grouped cross-validation needs --group-by COLUMN of the phenotype table")
    return grouped_kfold(ds.groups, k, seed)


# ---------------------------------------------------------------- noise (robustness)
class NoisyInput:
    """A pre-training source with p % noise on a fixed p % of its rows: v * (1 + p/100 * N(0,1))."""

    def __init__(self, source, percent: float, seed: int):
        self.source, self.p = source, percent / 100.0
        rng = np.random.default_rng([seed, 7])
        n = source.n_samples
        self.noisy = np.zeros(n, dtype=bool)
        self.noisy[rng.choice(n, int(round(self.p * n)), replace=False)] = True
        self.seed = seed

    sample_ids = property(lambda self: self.source.sample_ids)
    n_samples = property(lambda self: self.source.n_samples)

    def take(self, rows):
        x = self.source.take(rows)
        for i, r in enumerate(np.asarray(rows)):
            if self.noisy[r]:
                eps = np.random.default_rng([self.seed, 8, int(r)]).standard_normal(x.shape[1])
                x[i] *= (1 + self.p * eps).astype(x.dtype)
        return x


def noisy_pairs(x, y, percent, seed):
    """p % noise on p % of the fine-tuning pairs (expression and phenotypes alike)."""
    p = percent / 100.0
    rng = np.random.default_rng([seed, 9])
    chosen = rng.choice(x.shape[0], int(round(p * x.shape[0])), replace=False)
    x, y = x.copy(), y.copy()
    x[chosen] *= (1 + p * rng.standard_normal((chosen.size, x.shape[1]))).astype(x.dtype)
    y[chosen] *= 1 + p * rng.standard_normal((chosen.size, y.shape[1]))
    return x, y


# ---------------------------------------------------------------- one fit
class Runner:
    def __init__(self, ds: Dataset, cfg: RunConfig, out: Path, progress=None, pretrain_dir: Path | None = None):
        self.ds, self.cfg, self.out = ds, cfg, Path(out)
        self.state = self.out / "state"
        # pre-trainings are cached by what they depend on; runs may share a folder of them
        self.pretrain_dir = Path(pretrain_dir) if pretrain_dir else self.state
        self.pretrain_dir.mkdir(parents=True, exist_ok=True)
        self.device = backend.resolve_device(cfg.device)
        self.linked = linked_genes(ds.masks)
        self.progress = progress or (lambda *a, **k: None)
        noise = cfg.noise or {}
        self.pool = ds.pretrain_source
        if noise.get("where") in ("pretrain", "both"):
            self.pool = NoisyInput(ds.pretrain_source, noise["percent"], cfg.seed)
        self.x_labelled = ds.inputs.take(ds.labelled)

    def _checkpoint(self, strategy, params, progress, extra=None) -> Checkpoint:
        return Checkpoint(strategy, params, self.ds.masks, self.ds.normalisation, self.ds.targets,
                          self.ds.target_columns, self.cfg.to_dict(), progress, extra or {})

    def pretrained(self, exclude_ids: set, seed: int, label: str):
        """Pre-trained autoencoder parameters and losses for a pool without ``exclude_ids`` (cached)."""
        pool_ids = self.pool.sample_ids
        rows = np.array([i for i, s in enumerate(pool_ids) if s not in exclude_ids], dtype=np.int64)
        noise = self.cfg.noise or {}
        pool_noise = noise.get("percent") if noise.get("where") in ("pretrain", "both") else None
        key = hashlib.sha256(rows.tobytes() + json.dumps([seed, asdict(self.cfg.pretrain), pool_noise],
                                                          sort_keys=True).encode()).hexdigest()[:16]
        done = self.pretrain_dir / f"pretrain-{key}.h5"
        partial = self.pretrain_dir / f"pretrain-{key}.partial.h5"
        if done.exists():
            ck = load_checkpoint(done)
            check_same_masks(ck, self.ds.masks, done)
            return ck.params, ck.extra["losses"], float(ck.progress["seconds"])
        net = build_autoencoder(self.ds.masks, "C", seed, self.device)
        resume = None
        if partial.exists():
            ck = load_checkpoint(partial)
            check_same_masks(ck, self.ds.masks, partial)
            net.load_state_dict(ck.params)
            resume = {"step": ck.progress["step"], "losses": ck.extra["losses"],
                      "adam": {"m": ck.extra["adam_m"], "v": ck.extra["adam_v"], "t": ck.extra["adam_t"]}}
        t0 = time.perf_counter() - (float(ck.progress.get("seconds", 0.0)) if resume else 0.0)
        total = -(-self.cfg.pretrain.samples // self.cfg.pretrain.batch)

        def on_step(step, n, loss):
            self.progress("pretrain", label, step, total, loss)

        def on_checkpoint(s):
            save_checkpoint(partial, self._checkpoint("C", net.state_dict(), {
                "stage": "pretrain", "step": s["step"], "seconds": time.perf_counter() - t0},
                {"losses": s["losses"], "adam_m": s["adam"]["m"], "adam_v": s["adam"]["v"], "adam_t": s["adam"]["t"]}))

        losses = pretrain(net, self.pool, rows, self.cfg.pretrain, self.linked, seed, resume, on_step, on_checkpoint)
        seconds = time.perf_counter() - t0
        params = net.state_dict()
        save_checkpoint(done, self._checkpoint("C", params, {"stage": "pretrained", "seconds": seconds},
                                               {"losses": losses}))
        partial.unlink(missing_ok=True)
        return params, losses, seconds

    def fit(self, strategy, train, exclude_ids, seed, label):
        """Build, (pre-train,) fine-tune; returns (autoencoder, encoder, record)."""
        record = {"pretrain_seconds": 0.0, "pretrain_losses": np.zeros(0)}
        net = build_autoencoder(self.ds.masks, strategy, seed, self.device)
        if strategy == "C":
            # one pre-training seed for every fold: folds whose pools are the same share one pre-training
            params, losses, seconds = self.pretrained(exclude_ids, self.cfg.seed, label)
            net.load_state_dict(params)
            record.update(pretrain_seconds=seconds, pretrain_losses=np.asarray(losses))
        x, y = self.x_labelled[train], self.ds.y[train]
        if (self.cfg.noise or {}).get("where") in ("finetune", "both"):
            x, y = noisy_pairs(x, y, self.cfg.noise["percent"], seed)
        encoder = Sequential(net.layers[:net.n_encoder])
        self.progress("finetune", label, 0, 1, None)
        t0 = time.perf_counter()
        settings = self.cfg.finetune
        if not settings.lr:
            settings = replace(settings, lr=default_lr(strategy))
        losses, reason = finetune(encoder, x, y, self.ds.target_indices, settings, strategy == "C")
        record.update(finetune_seconds=time.perf_counter() - t0, finetune_losses=losses, stop=reason)
        self.progress("finetune", label, 1, 1, losses[-1] if losses.size else None)
        return net, encoder, record

    def reconstruct(self, net, x):
        out = backend.to_numpy(net.forward(backend.xp_for(self.device).asarray(x)))
        return np.asarray(out)

    # ------------------------------------------------------------ folds
    def run_fold(self, scheme, strategy, f, test):
        path = self.state / f"{scheme}-{strategy}-fold{f:02d}.h5"
        if path.exists():
            return read_fold(path)
        n = self.ds.labelled.size
        train = np.setdiff1d(np.arange(n), test)
        ids = self.ds.labelled_ids
        seed = self.cfg.seed * 1000 + f
        net, encoder, rec = self.fit(strategy, train, {ids[i] for i in test}, seed,
                                     f"{scheme} {strategy} fold {f + 1}")
        x_test = self.x_labelled[test]
        rec["test"] = test
        rec["predicted"] = predict(encoder, x_test, self.ds.target_indices)
        if strategy == "C":
            recon = self.reconstruct(net, x_test)[:, self.linked]
            rec["reconstruction"] = metrics.reconstruction_metrics(x_test[:, self.linked], recon)
            rec["recon_sample"] = np.stack([x_test[:, self.linked].ravel()[:2000], recon.ravel()[:2000]])
        write_fold(path, rec)
        return rec

    def run(self):
        results, t_start = {}, time.perf_counter()
        for scheme in self.cfg.cv:
            folds = make_folds(self.ds, scheme, self.cfg.folds, self.cfg.seed)
            for strategy in self.cfg.strategies:
                results[(scheme, strategy)] = [self.run_fold(scheme, strategy, f, test) for f, test in enumerate(folds)]
        final = None
        if self.cfg.final_model:
            final = self.final_model()
        return results, final, time.perf_counter() - t_start

    def final_model(self):
        path = self.out / "model.h5"
        strategy = "C" if "C" in self.cfg.strategies else self.cfg.strategies[0]  # the product, when run
        if path.exists():
            return load_checkpoint(path)
        n = self.ds.labelled.size
        net, encoder, rec = self.fit(strategy, np.arange(n), set(), self.cfg.seed * 1000 + 999,
                                     f"final model ({strategy})")
        ck = self._checkpoint(strategy, net.state_dict(),
                              {"stage": "final", "finetune_stop": rec["stop"], "samples": int(n)},
                              {"finetune_losses": rec["finetune_losses"]})
        save_checkpoint(path, ck)
        return ck


def write_fold(path, rec):
    def write(tmp):
        with h5py.File(tmp, "w") as f:
            for k, v in rec.items():
                if isinstance(v, dict):
                    g = f.create_group(k)
                    for kk, vv in v.items():
                        g.attrs[kk] = vv
                elif isinstance(v, str):
                    f.attrs[k] = v
                else:
                    f.create_dataset(k, data=np.asarray(v))
    write_atomically(path, write)


def read_fold(path):
    try:
        with h5py.File(path, "r") as f:
            rec = {k: (dict(v.attrs) if isinstance(v, h5py.Group) else v[()]) for k, v in f.items()}
            rec.update({k: str(v) for k, v in f.attrs.items()})
    except OSError as e:
        raise ValueError(f"{path}: corrupt fold state ({e}); delete it to recompute that fold") from None
    for k in ("pretrain_seconds", "finetune_seconds"):
        rec[k] = float(rec[k])
    return rec
