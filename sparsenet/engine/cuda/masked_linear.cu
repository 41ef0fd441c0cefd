// CSR-masked linear layer kernels (activations: activation.cuh). Every activation is feature-major: xT is (n_in, batch),
// row-major, so consecutive threads take consecutive samples and every load/store of an
// activation row is coalesced. Indices/weights of one CSR row are the same for all threads
// of a block (broadcast from L1).
//
// Reductions over the batch are split into tiles of `tile` samples (launch.py: 1,024): each
// kernel writes one partial per tile, and the launcher sums the partials in a fixed order, so
// results are deterministic and there are no atomics. Tiles also multiply the blocks: every
// kernel below launches >= 5x as many blocks as the layer has rows or nonzeros / 8.
//
// Costs at the DeepMetabolism shapes (batch B = 5,000, nnz = 16,135, 1,366 genes, 110
// phenotypes, float32; DRAM bytes, the gathers' re-reads hit L2):
//   masked_forward (encoder 1,366 -> 110, + softplus): 2*nnz*B = 161 MFLOP;
//     read xT once (27.3 MB), write out + slope (4.4 MB).
//   masked_forward on the transposed CSR (input gradient 110 -> 1,366): read 2.2 MB, write 27.3 MB.
//   slope_rowsum (encoder): dz = g * slope, db partials: read 4.4 MB, write 2.2 MB.
//   sddmm (encoder): dW[k] = sum_b dz[row k, b] x[col k, b]: 161 MFLOP; read dz (2.2 MB) and
//     xT (27.3 MB) once, write tiles * nnz * 4 = 0.3 MB.
//   decoder_scaled_sse (decoder + softplus or not + one-to-one + SSE + bias/scale/loss
//     partials): 161 MFLOP; read h (2.2 MB) and the target (27.3 MB), write grad_z (27.3 MB).
//   sddmm (decoder, on grad_z and h): read 27.3 + 2.2 MB.
//   scale_gradient: read 3 * nnz * 4 = 0.2 MB.

#include "activation.cuh"

__device__ __forceinline__ float row_combination(const int* __restrict__ indices,
                                                 const float* __restrict__ weight, int k, int end,
                                                 const float* __restrict__ xT, int batch, int b, float acc) {
    for (; k + 4 <= end; k += 4) {  // four independent loads in flight
        float a0 = weight[k]     * xT[(size_t)indices[k]     * batch + b];
        float a1 = weight[k + 1] * xT[(size_t)indices[k + 1] * batch + b];
        float a2 = weight[k + 2] * xT[(size_t)indices[k + 2] * batch + b];
        float a3 = weight[k + 3] * xT[(size_t)indices[k + 3] * batch + b];
        acc += (a0 + a1) + (a2 + a3);
    }
    for (; k < end; ++k) acc += weight[k] * xT[(size_t)indices[k] * batch + b];
    return acc;
}

// Sum of v over the block (every thread gets... only thread 0's result is meaningful).
// Reuses `partial` (32 slots); ends with a barrier so `partial` can be reused at once.
template <class T>
__device__ __forceinline__ T block_sum(T v, T* partial) {
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < (int)(blockDim.x >> 5) ? partial[lane] : (T)0;
        for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
    }
    __syncthreads();
    return v;
}

extern "C" __global__ void masked_forward(
    const int* __restrict__ indptr, const int* __restrict__ indices,
    const float* __restrict__ weight, const float* __restrict__ bias, int has_bias,
    const float* __restrict__ xT, float* __restrict__ outT, float* __restrict__ slopeT,
    int act, int n_out, int batch)
{
    int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= batch) return;
    for (int j = blockIdx.y; j < n_out; j += gridDim.y) {
        float acc = row_combination(indices, weight, indptr[j], indptr[j + 1], xT, batch, b,
                                    has_bias ? bias[j] : 0.0f);
        size_t o = (size_t)j * batch + b;
        if (act) {
            float s;
            outT[o] = activate(act, acc, &s);
            slopeT[o] = s;
        } else {
            outT[o] = acc;
        }
    }
}

// Grid (tiles, rows): dz = g * slope (when the layer has an activation) over the tile;
// db_tiles[tile, j] = sum of dz.
extern "C" __global__ void slope_rowsum(
    const float* __restrict__ gT, const float* __restrict__ slopeT, float* __restrict__ dzT,
    float* __restrict__ db_tiles, int act, int want_db, int n_out, int batch, int tile)
{
    __shared__ float partial[32];
    const int b0 = blockIdx.x * tile, b1 = min(batch, b0 + tile);
    for (int j = blockIdx.y; j < n_out; j += gridDim.y) {
        const size_t row = (size_t)j * batch;
        float acc = 0.0f;
        for (int b = b0 + threadIdx.x; b < b1; b += blockDim.x) {
            float g = gT[row + b];
            if (act) {
                g *= slopeT[row + b];
                dzT[row + b] = g;
            }
            acc += g;
        }
        if (!want_db) continue;  // uniform over the block
        acc = block_sum(acc, partial);
        if (threadIdx.x == 0) db_tiles[(size_t)blockIdx.x * n_out + j] = acc;
    }
}

// SDDMM: one warp per (nonzero, batch tile); grid (ceil(nnz / warps per block), tiles).
// Consecutive warps take consecutive nonzeros, mostly of the same row, so dz's tile is re-read
// from L1. Each lane keeps two independent accumulators; the warp reduces with shuffles.
extern "C" __global__ void sddmm(
    const int* __restrict__ indptr, const int* __restrict__ indices,
    const float* __restrict__ dzT, const float* __restrict__ xT, float* __restrict__ dw_tiles,
    int n_out, int nnz, int batch, int tile)
{
    const int lane = threadIdx.x & 31;
    const int k = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (k >= nnz) return;  // whole warps: k is the same for all 32 lanes
    int lo = 0, hi = n_out;  // the row of nonzero k: the last row whose first nonzero is <= k
    while (hi - lo > 1) {
        const int mid = (lo + hi) >> 1;
        if (indptr[mid] <= k) lo = mid; else hi = mid;
    }
    const int b0 = blockIdx.y * tile, b1 = min(batch, b0 + tile);
    const float* dz = dzT + (size_t)lo * batch;
    const float* x = xT + (size_t)indices[k] * batch;
    float acc0 = 0.0f, acc1 = 0.0f;
    int b = b0 + lane;
    for (; b + 32 < b1; b += 64) {
        acc0 += dz[b] * x[b];
        acc1 += dz[b + 32] * x[b + 32];
    }
    if (b < b1) acc0 += dz[b] * x[b];
    float acc = acc0 + acc1;
    for (int off = 16; off > 0; off >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, off);
    if (lane == 0) dw_tiles[(size_t)blockIdx.y * nnz + k] = acc;
}

// The pre-training step's last layers and loss in one pass, grid (tiles, rows):
// z = W h + b; s = act(z) (any activation.cuh code, 0: none); out = d_j s; loss = sum w_j (out - y)^2;
// g = 2 w_j (out - y); grad_z = g d_j s'(z) is written; per-tile partials of the loss (double),
// of grad_d = sum g s and of the bias gradient sum grad_z. z, s, out and g never leave registers.
extern "C" __global__ void decoder_scaled_sse(
    const int* __restrict__ indptr, const int* __restrict__ indices,
    const float* __restrict__ weight, const float* __restrict__ bias, int has_bias,
    const float* __restrict__ hT, const float* __restrict__ d, const float* __restrict__ yT,
    const float* __restrict__ row_weight, float* __restrict__ grad_zT,
    float* __restrict__ grad_d_tiles, double* __restrict__ loss_tiles, float* __restrict__ db_tiles,
    int act, int want_db, int n_out, int batch, int tile)
{
    __shared__ double partial_loss[32];
    __shared__ float partial[32];
    const int b0 = blockIdx.x * tile, b1 = min(batch, b0 + tile);
    for (int j = blockIdx.y; j < n_out; j += gridDim.y) {
        const float dj = d[j], wj = row_weight[j], bj = has_bias ? bias[j] : 0.0f;
        const size_t row = (size_t)j * batch;
        double loss = 0.0;
        float acc_d = 0.0f, acc_b = 0.0f;
        for (int b = b0 + threadIdx.x; b < b1; b += blockDim.x) {
            const float z = row_combination(indices, weight, indptr[j], indptr[j + 1], hT, batch, b, bj);
            float slope;
            const float s = activate(act, z, &slope);
            const float diff = dj * s - yT[row + b];
            loss += (double)(wj * diff * diff);
            const float g = 2.0f * wj * diff;
            acc_d += g * s;
            const float gz = g * dj * slope;
            grad_zT[row + b] = gz;
            acc_b += gz;
        }
        const size_t out = (size_t)blockIdx.x * n_out + j;
        loss = block_sum(loss, partial_loss);
        if (threadIdx.x == 0) loss_tiles[out] = loss;
        acc_d = block_sum(acc_d, partial);
        if (threadIdx.x == 0) grad_d_tiles[out] = acc_d;
        if (want_db) {  // uniform over the block
            acc_b = block_sum(acc_b, partial);
            if (threadIdx.x == 0) db_tiles[out] = acc_b;
        }
    }
}

// Gradient of an input scale folded into the layer: ds_j = sum over column j's nonzeros of
// w_k S_k, a segmented reduction over the transposed CSR (t_perm: position of each transposed
// nonzero in CSR order), one thread per column, in a fixed order.
extern "C" __global__ void scale_gradient(
    const int* __restrict__ t_indptr, const int* __restrict__ t_perm,
    const float* __restrict__ weight, const float* __restrict__ s, float* __restrict__ ds, int n_in)
{
    for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < n_in; j += gridDim.x * blockDim.x) {
        double acc = 0.0;  // as the CPU: float products, double sums
        for (int kk = t_indptr[j]; kk < t_indptr[j + 1]; ++kk) {
            const int k = t_perm[kk];
            acc += (double)(weight[k] * s[k]);
        }
        ds[j] = (float)acc;
    }
}
