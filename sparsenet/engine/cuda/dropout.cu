// Dropout's forward: keep each input with probability 1 - p, scaled by 1 / (1 - p), from a counter-based
// hash (no state on the device): element (feature j, sample t) of a step keeps when
// mix(mix(t * features + j + key)) >= threshold, mix = lowbias32 (C. Wellons' 32-bit integer hash), key
// derived on the host from the layer's seed and step. cpu_kernels.dropout_forward computes the same bits,
// so the CPU and the GPU drop the same entries. Arrays feature-major (features, batch), C-contiguous.
// Bytes: read 4n, write 8n (output and the kept scale for backward); ~12 integer ops an element.

__device__ __forceinline__ unsigned int lowbias32(unsigned int x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

extern "C" __global__ void dropout_forward(const float* __restrict__ x, float* __restrict__ y,
                                           float* __restrict__ keep, unsigned int key, unsigned int threshold,
                                           float scale, int features, int batch)
{
    long long n = (long long)features * batch;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        int j = (int)(i / batch);
        int t = (int)(i - (long long)j * batch);
        unsigned int h = lowbias32(lowbias32((unsigned int)t * (unsigned int)features + (unsigned int)j + key));
        float k = h >= threshold ? scale : 0.0f;
        keep[i] = k;
        y[i] = x[i] * k;
    }
}
