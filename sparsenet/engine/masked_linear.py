"""MaskedLinear: y = act(x W^T + b) where W is nonzero only on a fixed 0/1 mask.

Only the mask's nonzeros are parameters, one flat vector in the CSR order of the mask
(out x in). The input gradient uses the transpose of the mask, built once here as CSR
indices plus a permutation into the flat weight vector; the weight gradient is computed
only at the nonzeros (SDDMM), never as a dense out x in product.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .. import backend
from .activations import activation_code
from .layer import Layer
from . import kernels


def as_binary_csr(mask, where: str = "mask") -> sp.csr_matrix:
    """Validate a 0/1 mask (scipy.sparse or dense, out x in) and return it as sorted CSR."""
    if sp.issparse(mask):
        m = sp.csr_matrix(mask)
    else:
        a = np.asarray(mask)
        if a.dtype == object:
            raise ValueError(f"{where}: must be a numeric 0/1 matrix, got dtype object")
        m = sp.csr_matrix(a)
    if m.ndim != 2 or m.shape[0] == 0 or m.shape[1] == 0:
        raise ValueError(f"{where}: must be a non-empty 2-D (out x in) matrix, got shape {m.shape}")
    m.sum_duplicates()
    data = np.asarray(m.data, dtype=np.float64)
    bad = ~((data == 0) | (data == 1))
    if bad.any():
        raise ValueError(f"{where}: values must be 0 or 1, found {data[bad][0]!r}; pass the connectivity, not weights")
    m.data = data
    m.eliminate_zeros()
    m.sort_indices()
    return m


def transpose_index(indptr: np.ndarray, indices: np.ndarray, n_in: int):
    """CSR of the transposed mask: (t_indptr, t_indices, t_perm) with t_perm[kk] the
    position in the original CSR order of the kk-th transposed nonzero."""
    n_out = len(indptr) - 1
    rows = np.repeat(np.arange(n_out, dtype=np.int32), np.diff(indptr))
    order = np.lexsort((rows, indices)).astype(np.int32)  # by column, then row
    t_indptr = np.zeros(n_in + 1, dtype=np.int32)
    np.cumsum(np.bincount(indices, minlength=n_in), out=t_indptr[1:])
    return t_indptr, rows[order].astype(np.int32), order


class MaskedLinear(Layer):
    """Sparse linear layer over a fixed connectivity mask, with an optional fused activation.

    Parameters
    ----------
    mask : (out, in) 0/1 matrix, scipy.sparse or dense
    bias : add a learnable bias per output
    activation : None, ``"softplus"``, ``"relu"``, ``"tanh"`` or ``"sigmoid"`` (fused: bias and
        activation in the same kernel, its slope kept for backward)
    input_scale : also learn a scale per input, ``y = act((x * s) W^T + b)``: a one-to-one
        layer in front (gene -> protein) folded into this one. The scaled input is never
        materialised: the kernels run on the effective weights ``w_k s_j``, and the weight
        gradient at the nonzeros, ``S_k = sum_b dz_i x_j``, gives both gradients
        (``dw_k = s_j S_k``, ``ds_j = sum_k w_k S_k`` over column j), so the one-to-one
        layer's forward, backward and the input gradient it needed all disappear.
    scale_index, n_scales : with ``input_scale``, which of ``n_scales`` scales each nonzero (CSR order)
        reads; default its column (one scale per input). A stack of networks over one input
        (``engine.stack``) gives each member's nonzeros the scales of their own member.
    """

    def __init__(
        self,
        mask,
        bias: bool = True,
        activation: str | None = None,
        dtype=np.float32,
        seed: int | None = 0,
        device: str = "cpu",
        input_scale: bool = False,
        scale_index=None,
        n_scales: int | None = None,
    ):
        super().__init__()
        self._act = activation_code(activation)
        m = as_binary_csr(mask)
        self.shape = m.shape
        self.activation = activation
        self.indptr = m.indptr.astype(np.int32)
        self.indices = m.indices.astype(np.int32)
        self.t_indptr, self.t_indices, self.t_perm = transpose_index(self.indptr, self.indices, m.shape[1])
        self._nnz = int(m.nnz)  # a host int: reading indptr[-1] on a GPU would synchronise
        self.params["weight"] = self._init_weight(np.random.default_rng(seed)).astype(dtype)
        if bias:
            self.params["bias"] = np.zeros(m.shape[0], dtype=dtype)
        if input_scale:
            self._scale_groups(scale_index, n_scales)
            self.params["scale"] = np.ones(self.n_scales, dtype=dtype)
        elif scale_index is not None:
            raise ValueError("MaskedLinear: scale_index needs input_scale=True")
        self._new_grads()
        self._empty = np.zeros(0, dtype=dtype)
        self._param_grads_done = False  # set by forward_softplus_scaled_sse
        if device != "cpu":
            self.to(device)

    def _scale_groups(self, scale_index, n_scales):
        """Each nonzero's scale (``scale_index``) and, for the scale gradient, the nonzeros of each scale in
        CSR order (``s_indptr``, ``s_perm``: with one scale per input, the transposed mask's own)."""
        self._scales_by_column = scale_index is None
        if scale_index is None:
            self.n_scales = self.shape[1]
            self.scale_index, self.s_indptr, self.s_perm = self.indices, self.t_indptr, self.t_perm
            return
        index = np.asarray(scale_index, dtype=np.int64)
        n_scales = int(index.max()) + 1 if n_scales is None else int(n_scales)
        if index.shape != (self.nnz,) or index.min() < 0 or index.max() >= n_scales:
            raise ValueError(f"MaskedLinear: scale_index needs one entry in [0, {n_scales}) per nonzero ({self.nnz})")
        self.n_scales = n_scales
        self.scale_index = index.astype(np.int32)
        self.s_perm = np.argsort(index, kind="stable").astype(np.int32)
        self.s_indptr = np.zeros(n_scales + 1, dtype=np.int32)
        np.cumsum(np.bincount(index, minlength=n_scales), out=self.s_indptr[1:])

    def effective_weight(self):
        """The weights the kernels use: ``w_k * s[scale_index_k]`` with an input scale, else ``w``."""
        w = self.params["weight"]
        return w * self.params["scale"][self.scale_index] if "scale" in self.params else w

    def _init_weight(self, rng) -> np.ndarray:
        """Glorot-uniform on each link's real fan-in (row degree) and fan-out (column degree)."""
        fan_in = np.diff(self.indptr)
        fan_out = np.diff(self.t_indptr)
        rows = np.repeat(np.arange(self.shape[0]), fan_in)
        limit = np.sqrt(6.0 / (fan_in[rows] + fan_out[self.indices]))
        return rng.uniform(-1.0, 1.0, size=self.nnz) * limit

    # ---------------------------------------------------------------- shape
    @property
    def nnz(self) -> int:
        return self._nnz

    @property
    def in_features(self) -> int:
        return self.shape[1]

    @property
    def out_features(self) -> int:
        return self.shape[0]

    def mask(self) -> sp.csr_matrix:
        ones = np.ones(self.nnz)
        return sp.csr_matrix((ones, backend.to_numpy(self.indices), backend.to_numpy(self.indptr)), shape=self.shape)

    def weight_matrix(self) -> sp.csr_matrix:
        """The weights as a scipy CSR matrix (out x in), on the CPU."""
        w = backend.to_numpy(self.params["weight"])
        return sp.csr_matrix((w, backend.to_numpy(self.indices), backend.to_numpy(self.indptr)), shape=self.shape)

    def _move_buffers(self, xp):
        for name in ("indptr", "indices", "t_indptr", "t_indices", "t_perm"):
            setattr(self, name, xp.asarray(backend.to_numpy(getattr(self, name))))
        if "scale" in self.params:
            if self._scales_by_column:  # views of the moved mask's own arrays
                self.scale_index, self.s_indptr, self.s_perm = self.indices, self.t_indptr, self.t_perm
            else:
                for name in ("scale_index", "s_indptr", "s_perm"):
                    setattr(self, name, xp.asarray(backend.to_numpy(getattr(self, name))))
        self._empty = xp.zeros(0, dtype=self.dtype)

    # ---------------------------------------------------------------- compute
    def _forward(self, x):
        xp = backend.get_array_module(x)
        ops = kernels.for_module(xp)
        xT = x.T
        batch = xT.shape[1]
        outT = xp.empty((self.out_features, batch), dtype=self.dtype)
        slopeT = xp.empty_like(outT) if self._act else self._empty.reshape(0, 0)
        self._w = self.effective_weight()
        self._param_grads_done = False
        ops.masked_forward(
            self.indptr, self.indices, self._w, self.params.get("bias", self._empty), xT, outT, slopeT, self._act
        )
        self._xT, self._slopeT = xT, slopeT
        return outT.T

    def forward_softplus_scaled_sse(self, x, scale, target, feature_weight=None):
        """This (linear) layer, then softplus, a one-to-one layer ``scale`` and the sum of squared
        error against ``target``, in one fused kernel (CPU and GPU). Returns (value, gradient of this
        layer's output, gradient of ``scale``); the value is a float on the CPU and a 0-d device array
        on the GPU (no synchronisation). ``backward`` then continues from the returned gradient as
        after ``forward``: only the input gradient is left to compute."""
        return self._fused_scaled_sse(x, scale, target, feature_weight, "masked_forward_softplus_scaled_sse")

    def forward_scaled_sse(self, x, scale, target, feature_weight=None):
        """This (linear) layer, a one-to-one layer ``scale`` and the sum of squared error (a linear
        decoder's pre-training step); returns as :meth:`forward_softplus_scaled_sse`. On the GPU one
        kernel; on the CPU the layer's forward, then the fused Numba loss (already one pass each)."""
        if self.activation is not None:
            raise ValueError("forward_scaled_sse: the layer must be linear")
        xp = backend.get_array_module(x)
        if xp is np:
            from .losses import scaled_squared_error

            return scaled_squared_error(self._forward(x), scale, target, feature_weight)
        return self._fused_scaled_sse(x, scale, target, feature_weight, "masked_forward_scaled_sse")

    def _fused_scaled_sse(self, x, scale, target, feature_weight, kernel):
        if self.activation is not None:
            raise ValueError("forward_softplus_scaled_sse: the layer must be linear (softplus is applied here)")
        xp = backend.get_array_module(x)
        ops = kernels.for_module(xp)
        n, batch = self.out_features, x.shape[0]
        w = xp.ones(n, self.dtype) if feature_weight is None else xp.asarray(feature_weight, self.dtype)
        xT = x.T
        self._w = self.effective_weight()
        self._xT, self._slopeT = xT, self._empty.reshape(0, 0)
        yT = backend.feature_major(xp.asarray(target, dtype=self.dtype)).T
        gzT = xp.empty((n, batch), dtype=self.dtype)
        tiles = ops.n_tiles(batch)
        gd_tiles = xp.empty((tiles, n), dtype=self.dtype)
        loss_tiles = xp.empty((tiles, n), dtype=xp.float64)
        want_params = self.trainable
        dw_tiles = xp.empty((tiles if want_params else 0, self.nnz), dtype=self.dtype)
        db_tiles = xp.empty((tiles if want_params else 0, n), dtype=self.dtype)
        getattr(ops, kernel)(
            self.indptr,
            self.indices,
            self._w,
            self.params.get("bias", self._empty),
            xT,
            xp.ascontiguousarray(scale),
            yT,
            w,
            gzT,
            gd_tiles,
            loss_tiles,
            dw_tiles,
            db_tiles,
            want_params,
        )
        if want_params:
            self._param_grads_from_tiles(xp, dw_tiles, db_tiles)
        self._param_grads_done = want_params  # backward: only the input gradient is left
        value = loss_tiles.sum()
        return (float(value) if xp is np else value), gzT.T, gd_tiles.sum(axis=0)

    def backward(self, grad_out, want_input_grad: bool = True):
        xp = backend.get_array_module(grad_out)
        ops = kernels.for_module(xp)
        gT = backend.feature_major(grad_out).T
        xT = self._xT
        batch = xT.shape[1]
        want_params = self.trainable and not self._param_grads_done
        self._param_grads_done = False
        dzT = xp.empty_like(gT) if self._act else gT
        dxT = xp.empty((self.in_features, batch), dtype=self.dtype) if want_input_grad else self._empty.reshape(0, 0)
        tiles = ops.n_tiles(batch) if want_params else 0
        dw_tiles = xp.empty((tiles, self.nnz), dtype=self.dtype)
        db_tiles = xp.empty((tiles, self.out_features), dtype=self.dtype)
        t_weight = self._w[self.t_perm] if want_input_grad else self._w
        ops.masked_backward(
            self.indptr,
            self.indices,
            self.t_indptr,
            self.t_indices,
            t_weight,
            xT,
            gT,
            self._slopeT,
            self._act,
            dzT,
            dxT,
            dw_tiles,
            db_tiles,
            want_input_grad,
            want_params,
        )
        if want_params:
            self._param_grads_from_tiles(xp, dw_tiles, db_tiles)
        return dxT.T if want_input_grad else None

    def _param_grads_from_tiles(self, xp, dw_tiles, db_tiles):
        """Reduce per-tile partials (fixed order) into the weight, bias and input-scale gradients."""
        dw_tiles.sum(axis=0, out=self.grads["weight"])  # S_k = sum_b dz_i x_j at the nonzeros
        if "scale" in self.params:
            s_k = self.grads["weight"].copy()
            if "scale" in self.frozen:
                self.grads["scale"][...] = 0
            else:
                kernels.for_module(xp).scale_gradient(
                    self.s_indptr, self.s_perm, self.params["weight"], s_k, self.grads["scale"]
                )
            xp.multiply(s_k, self.params["scale"][self.scale_index], out=self.grads["weight"])
        if "bias" in self.grads:
            db_tiles.sum(axis=0, out=self.grads["bias"])
