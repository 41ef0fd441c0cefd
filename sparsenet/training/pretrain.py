"""Pre-training: the mirrored autoencoder on expression, sum of squared reconstruction error, Adam.

Genes that reach no phenotype are left out of the loss: the phenotype bottleneck cannot carry
them, so their error would only add a constant the network cannot reduce.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import backend
from ..data.stream import batch_indices, batches, is_buffered, n_steps
from ..engine import (
    Adam,
    MaskedLinear,
    OneToOne,
    Softplus,
    scaled_squared_error,
    softplus_scaled_squared_error,
    sum_squared_error,
)
from ..engine.layer import cpu_feature_major


@dataclass(frozen=True)
class PretrainSettings:
    samples: int = 1_000_000
    batch: int = 5000
    lr: float = 0.1  # Adam step for the SSE of 5,000-sample batches (chosen on reconstruction, not on phenotypes)
    checkpoint_every: int = 50
    # denoising: this fraction of each profile's genes set to 0 in the input, the clean profile the target
    noise: float = 0.0


LOG_EVERY = 10  # pre-training steps between reading the loss back (and reporting progress)


def _read_back(values) -> list[float]:
    """Per-step losses as floats: CPU floats as they are, device scalars in one transfer."""
    if not values or isinstance(values[0], float):
        return list(values)
    xp = backend.get_array_module(values[0])
    return [float(v) for v in backend.to_numpy(xp.stack(values))]


def reconstruction_step(net, x, weight=None, target=None):
    """Forward, weighted SSE against ``target`` (default: ``x`` itself), backward (fills ``net.grads``); the
    loss value (a float on the CPU, a 0-d device array on the GPU: the step does not wait for the device).

    A network ending in ``[..., MaskedLinear (linear), Softplus(), OneToOne]`` (the
    DeepMetabolism decoder) runs those three layers and the loss as one fused pass
    (:meth:`MaskedLinear.forward_softplus_scaled_sse`), ``[..., MaskedLinear (linear), OneToOne]`` (the
    linear decoder) two and the loss (:meth:`MaskedLinear.forward_scaled_sse`: one kernel on the GPU);
    ``[..., Softplus(), OneToOne]`` fuses two (:func:`softplus_scaled_squared_error`), a final
    one-to-one layer alone one. ``x`` was validated when it was read.
    """
    target = x if target is None else target
    layers = net.layers
    last = layers[-1]
    fusable = isinstance(last, OneToOne) and "bias" not in last.params and last.trainable and not last.frozen
    if fusable:
        tail = 2 if len(layers) > 2 and isinstance(layers[-2], Softplus) else 1
        decoder = layers[-3] if tail == 2 else None
        linear_decoder = layers[-2] if tail == 1 and len(layers) > 1 else None
        if isinstance(decoder, MaskedLinear) and decoder.activation is None:  # decoder + softplus + last + loss
            h = net.forward(x, check=False, stop=len(layers) - 3)
            value, grad, grad_d = decoder.forward_softplus_scaled_sse(h, last.params["weight"], target, weight)
            tail = 2
        elif isinstance(linear_decoder, MaskedLinear) and linear_decoder.activation is None:  # decoder + last + loss
            h = net.forward(x, check=False, stop=len(layers) - 2)
            value, grad, grad_d = linear_decoder.forward_scaled_sse(h, last.params["weight"], target, weight)
            tail = 1
        else:
            fused = softplus_scaled_squared_error if tail == 2 else scaled_squared_error
            before = net.forward(x, check=False, stop=len(layers) - tail)
            value, grad, grad_d = fused(before, last.params["weight"], target, weight)
        last.grads["weight"][...] = grad_d
        net.backward(grad, stop=len(layers) - tail)
        return value
    value, grad = sum_squared_error(net.forward(x, check=False), target, weight)
    net.backward(grad)
    return value


def corrupted(x, fraction: float, rng, xp):
    """``x`` with ``fraction`` of its entries set to 0 (masking noise: a denoising autoencoder's input),
    feature-major like ``x``."""
    keep = xp.asarray(rng.random(x.shape) >= fraction, dtype=x.dtype)
    return x * keep


def device_batches(source, rows, settings: PretrainSettings, seed: int, start: int, xp):
    """(step, batch (samples, genes) feature-major on the network's device), the stream's batches.

    On a GPU with few enough rows to buffer, the rows are copied to the device once and each batch
    is gathered there: the per-step host-to-device copy (27 MB at the paper's batch, ~0.5 ms over
    PCIe, more than the step's kernels) becomes one of the batch's indices (40 kB)."""
    if xp is np or not is_buffered(rows):
        for step, batch in batches(source, rows, settings.batch, settings.samples, seed, start_step=start):
            yield step, xp.asarray(cpu_feature_major(batch))
        return
    sorted_rows = np.sort(np.asarray(rows, dtype=np.int64))
    cacheT = xp.asarray(np.ascontiguousarray(source.take(sorted_rows).T))
    for step, idx in batch_indices(rows, settings.batch, settings.samples, seed, start_step=start):
        yield step, xp.take(cacheT, xp.asarray(np.searchsorted(sorted_rows, idx)), axis=1).T


def pretrain(
    net,
    source,
    rows,
    settings: PretrainSettings,
    linked: np.ndarray,
    seed: int,
    state: dict | None = None,
    on_step=None,
    on_checkpoint=None,
):
    """Run (or resume, from ``state``) pre-training; returns the per-sample loss of every step."""
    xp = backend.xp_for(net.device)
    opt = Adam(net.params, net.grads, lr=settings.lr)
    losses, start = [], 0
    if state is not None:
        opt.load_state_dict(state["adam"])
        losses, start = list(state["losses"]), int(state["step"])
    weight = xp.asarray(linked, dtype=net.params.dtype)  # 0: left out of the loss
    total = n_steps(settings.samples, settings.batch)
    pending = []  # losses not read back yet: on a GPU each read waits for the device
    for step, x in device_batches(source, rows, settings, seed, start, xp):
        if settings.noise:  # denoising: a corrupted profile in, the clean one as the target (seeded per step)
            noisy = backend.feature_major(corrupted(x, settings.noise, np.random.default_rng([seed, 13, step]), xp))
            value = reconstruction_step(net, noisy, weight, target=x)
        else:
            value = reconstruction_step(net, x, weight)
        opt.step()
        pending.append(value / x.shape[0])
        done = step + 1
        checkpoint = on_checkpoint and done % settings.checkpoint_every == 0 and done < total
        if done % LOG_EVERY == 0 or done == total or checkpoint:
            losses += _read_back(pending)
            pending = []
            if on_step:
                on_step(done, total, losses[-1])
        if checkpoint:
            on_checkpoint({"step": done, "adam": opt.state_dict(), "losses": np.asarray(losses)})
    losses += _read_back(pending)
    return np.asarray(losses)
