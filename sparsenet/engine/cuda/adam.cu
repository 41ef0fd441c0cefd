// Fused Adam over the network's one flat parameter buffer (textbook update, Kingma & Ba);
// decay = 1 - lr * weight_decay multiplies the parameter first (AdamW's decoupled decay; 1: none).
// Bytes per parameter: read p, g, m, v (16 B), write p, m, v (12 B); ~12 FLOP + 1 sqrt.

extern "C" __global__ void adam_update(float* __restrict__ p, const float* __restrict__ g,
                                       float* __restrict__ m, float* __restrict__ v, long long n,
                                       float lr, float beta1, float beta2, float eps,
                                       float bias1, float bias2, float decay)
{
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        float gi = g[i];
        float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = decay * p[i] - lr * (mi / bias1) / (sqrtf(vi / bias2) + eps);
    }
}
