"""L-BFGS for many independent problems at once: a stack's members, each its own smooth objective
of the same number of parameters, minimised side by side.

Each member has its own curvature memory (the two-loop recursion of Nocedal & Wright, Algorithm
7.4, vectorised over members), its own step length from a backtracking line search (Armijo's
condition, step halved until it holds; a trial evaluates every member at once, members that have
already accepted re-evaluated where they stand) and its own stopping point: the relative decrease
of its objective over ``window`` iterations below ``tol`` (SciPy's L-BFGS-B criterion, over a
window), or a line search that cannot find a lower point. A member that stops keeps its
parameters. Arrays are NumPy or CuPy (``xp``); the memory is float32, its dot products float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ARMIJO = 1e-4  # sufficient decrease: f(p + a d) <= f(p) + ARMIJO a g.d
MAX_HALVINGS = 30  # a line search that halves its step this often has found no lower point: stop
CURVATURE = 1e-10  # a pair (s, y) joins the memory only when s.y > CURVATURE |s| |y|


@dataclass
class Result:
    params: object  # (K, P) the members' final parameters
    objectives: np.ndarray  # (iterations + 1, K): each member's objective after each of its iterations
    recorded: np.ndarray  # (iterations + 1, K): what ``evaluate`` reported beside it (e.g. the data loss)
    iterations: np.ndarray  # (K,) iterations each member took
    evaluations: int  # passes of the whole stack
    reasons: list  # per member: 'tolerance', 'line search' or 'iteration limit'


def _dot(xp, a, b):
    """Per-member dot products of (K, P) arrays, in float64."""
    return xp.einsum("kp,kp->k", a.astype(np.float64, copy=False), b.astype(np.float64, copy=False))


def minimise(
    evaluate, p0, xp=np, memory: int = 10, max_iter: int = 1000, tol: float = 1e-7, window: int = 5, progress=None
) -> Result:
    """Minimise K objectives of P parameters each, side by side.

    ``evaluate(p)`` takes (K, P) parameters and returns (objectives (K,), gradients (K, P), a (K,) value
    to record at each accepted point); it is called with every member's point at once. ``p0`` (K, P) is
    where each member starts."""
    p = xp.array(p0, dtype=np.float64)
    k, n_params = p.shape
    f, g, aux = evaluate(p)
    f, g = xp.asarray(f, dtype=np.float64), xp.asarray(g, dtype=np.float64)
    aux = np.asarray(_host(aux), dtype=np.float64)
    recorded = [aux]
    evaluations = 1
    s_mem = xp.zeros((memory, k, n_params), dtype=np.float32)
    y_mem = xp.zeros((memory, k, n_params), dtype=np.float32)
    rho = xp.zeros((memory, k), dtype=np.float64)  # 0: an empty slot
    head = np.zeros(k, dtype=np.int64)  # where each member's next pair goes
    history = [np.asarray(_host(f))]
    active = np.ones(k, dtype=bool)
    iterations = np.zeros(k, dtype=np.int64)
    reasons = ["iteration limit"] * k
    members = xp.arange(k)
    for it in range(max_iter):
        act = xp.asarray(active)
        # the two-loop recursion, every member at once; empty slots have rho 0 and change nothing
        q = g.copy()
        alphas = []
        for back in range(1, memory + 1):
            slot = xp.asarray((head - back) % memory)
            s_i, y_i, r_i = s_mem[slot, members], y_mem[slot, members], rho[slot, members]
            a_i = r_i * _dot(xp, s_i, q)
            q -= a_i[:, None] * y_i
            alphas.append((slot, a_i))
        last = xp.asarray((head - 1) % memory)
        s_l, y_l = s_mem[last, members], y_mem[last, members]
        yy = _dot(xp, y_l, y_l)
        sy = _dot(xp, s_l, y_l)
        gnorm = xp.sqrt(_dot(xp, g, g))
        first = rho[last, members] == 0
        gamma = xp.where(first, 1.0 / xp.maximum(gnorm, 1e-12), sy / xp.where(yy > 0, yy, 1.0))
        r = gamma[:, None] * q
        for slot, a_i in reversed(alphas):
            s_i, y_i, r_i = s_mem[slot, members], y_mem[slot, members], rho[slot, members]
            b_i = r_i * _dot(xp, y_i, r)
            r += s_i * (a_i - b_i)[:, None]
        d = -r
        slope = _dot(xp, g, d)
        uphill = slope >= 0  # not a descent direction (round-off): start again from the gradient
        if bool(uphill.any()):
            d = xp.where(uphill[:, None], -g / xp.maximum(gnorm, 1e-12)[:, None], d)
            slope = _dot(xp, g, d)
            rho[:, uphill] = 0
        # backtracking line search, every member's trial in one evaluation
        step = xp.where(act, 1.0, 0.0)
        accepted = ~act
        f_new, g_new, aux_new = f, g, aux.copy()
        for _ in range(MAX_HALVINGS):
            trial = p + step[:, None] * d
            f_t, g_t, aux_t = evaluate(trial)
            f_t, g_t = xp.asarray(f_t, dtype=np.float64), xp.asarray(g_t, dtype=np.float64)
            evaluations += 1
            ok = (f_t <= f + ARMIJO * step * slope) & xp.isfinite(f_t) & ~accepted
            f_new = xp.where(ok, f_t, f_new)
            g_new = xp.where(ok[:, None], g_t, g_new)
            ok_host = np.asarray(_host(ok))
            aux_new[ok_host] = np.asarray(_host(aux_t), dtype=np.float64)[ok_host]
            accepted = accepted | ok
            if bool(accepted.all()):
                break
            step = xp.where(accepted, step, step * 0.5)
        failed = np.asarray(_host(~accepted)) & active
        step = xp.where(accepted & act, step, 0.0)
        s_new = step[:, None] * d
        y_new = g_new - g
        p = p + s_new
        sy = _dot(xp, s_new, y_new)
        good = (sy > CURVATURE * xp.sqrt(_dot(xp, s_new, s_new) * _dot(xp, y_new, y_new))) & act
        slot = xp.asarray(head % memory)
        s_mem[slot, members] = xp.where(good[:, None], s_new, s_mem[slot, members]).astype(np.float32)
        y_mem[slot, members] = xp.where(good[:, None], y_new, y_mem[slot, members]).astype(np.float32)
        rho[slot, members] = xp.where(good, 1.0 / xp.where(good, sy, 1.0), rho[slot, members])
        head = head + np.asarray(_host(good)).astype(np.int64)
        f, g = xp.where(act, f_new, f), xp.where(act[:, None], g_new, g)
        f_host = np.asarray(_host(f))
        history.append(f_host)
        aux = np.where(active, aux_new, aux)
        recorded.append(aux)
        iterations[active] += 1
        for m in np.flatnonzero(failed):
            reasons[m] = "line search"
        active &= ~failed
        if it + 1 >= window:
            before = history[-1 - window]
            done = active & ((before - f_host) <= tol * np.maximum(np.maximum(np.abs(before), np.abs(f_host)), 1e-12))
            for m in np.flatnonzero(done):
                reasons[m] = "tolerance"
            active &= ~done
        if progress is not None:
            progress(it, f_host, active)
        if not active.any():
            break
    return Result(p, np.stack(history), np.stack(recorded), iterations, evaluations, reasons)


def _host(a):
    return a.get() if hasattr(a, "get") else a
