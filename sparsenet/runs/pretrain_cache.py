"""Pre-trainings, cached on disk by everything they depend on (the pool's rows, seed, settings, noise, input
transform, architecture and the masks' fingerprint), so folds, seeds, runs and workers that need the same
pre-training share one; a killed pre-training resumes from its last checkpoint."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path

from ..data.standardise import InputTransform, TransformedSource
from ..progress import Stage, quiet
from ..training.checkpoint import check_same_masks, load_checkpoint, mask_fingerprint, save_checkpoint
from ..training.network import build_autoencoder
from ..training.pretrain import pretrain


class PretrainCache:
    """Pre-trained autoencoders of ``cfg`` on ``pool`` (a sample source), kept in ``folder``. ``checkpoint``
    makes a checkpoint (strategy, params, progress, extra, masks) with the run's metadata."""

    def __init__(self, pool, cfg, folder: Path, device: str, checkpoint):
        self.pool, self.cfg, self.folder, self.device = pool, cfg, Path(folder), device
        self.checkpoint = checkpoint
        self.folder.mkdir(parents=True, exist_ok=True)

    def key(self, rows, transform: InputTransform, seed: int, masks) -> str:
        noise = self.cfg.noise
        pool_noise = noise.percent if noise and noise.where in ("pretrain", "both") else None
        what = [
            seed,
            asdict(self.cfg.pretrain),
            pool_noise,
            transform.how,
            asdict(self.cfg.architecture),
            mask_fingerprint(masks),
        ]
        return hashlib.sha256(rows.tobytes() + json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]

    def get(self, rows, transform: InputTransform, seed: int, masks, linked, label: str = "", progress=None):
        """(parameters, losses, seconds) of the autoencoder on ``masks`` pre-trained on the pool's ``rows``
        (``linked``: the genes ``masks`` link), from the cache, resumed, or run now."""
        progress = progress or quiet
        key = self.key(rows, transform, seed, masks)
        done, partial = self.folder / f"pretrain-{key}.h5", self.folder / f"pretrain-{key}.partial.h5"
        if done.exists():
            ck = load_checkpoint(done)
            check_same_masks(ck, masks, done)
            return ck.params, ck.extra["losses"], float(ck.progress["seconds"])
        net = build_autoencoder(masks, "C", seed, self.device, self.cfg.architecture)
        resume, before = None, 0.0
        if partial.exists():
            ck = load_checkpoint(partial)
            check_same_masks(ck, masks, partial)
            net.load_state_dict(ck.params)
            resume = {
                "step": ck.progress["step"],
                "losses": ck.extra["losses"],
                "adam": {"m": ck.extra["adam_m"], "v": ck.extra["adam_v"], "t": ck.extra["adam_t"]},
            }
            before = float(ck.progress.get("seconds", 0.0))
        t0 = time.perf_counter() - before
        total = -(-self.cfg.pretrain.samples // self.cfg.pretrain.batch)

        def on_step(step, n, loss):
            progress(Stage("pretrain", label, step, total, loss))

        def on_checkpoint(s):
            save_checkpoint(
                partial,
                self.checkpoint(
                    "C",
                    net.state_dict(),
                    {"stage": "pretrain", "step": s["step"], "seconds": time.perf_counter() - t0},
                    {
                        "losses": s["losses"],
                        "adam_m": s["adam"]["m"],
                        "adam_v": s["adam"]["v"],
                        "adam_t": s["adam"]["t"],
                    },
                    masks,
                ),
            )

        losses = pretrain(
            net,
            TransformedSource(self.pool, transform),
            rows,
            self.cfg.pretrain,
            linked,
            seed,
            resume,
            on_step,
            on_checkpoint,
        )
        seconds = time.perf_counter() - t0
        params = net.state_dict()
        save_checkpoint(
            done, self.checkpoint("C", params, {"stage": "pretrained", "seconds": seconds}, {"losses": losses}, masks)
        )
        partial.unlink(missing_ok=True)
        return params, losses, seconds
