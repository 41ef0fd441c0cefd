// Elementwise activations (activation.cuh) and their slopes, over any contiguous array (n elements).
// Bytes: read 4n, write 8n (value + slope kept for backward); softplus ~20 FLOP + 2 SFU ops each.
#include "activation.cuh"

extern "C" __global__ void activation_forward(const float* __restrict__ z, float* __restrict__ y,
                                              float* __restrict__ slope, int act, long long n)
{
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        float s;
        y[i] = activate(act, z[i], &s);
        slope[i] = s;
    }
}

// grad_in = grad_out * slope. Bytes: read 8n, write 4n.
extern "C" __global__ void multiply(const float* __restrict__ a, const float* __restrict__ b,
                                    float* __restrict__ out, long long n)
{
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x)
        out[i] = a[i] * b[i];
}
