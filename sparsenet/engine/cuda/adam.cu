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

// Adam for a stack of networks: g = grad + penalty * (p - anchor) (one L2 coefficient per parameter,
// has_penalty 0: none; pulling toward anchor, has_anchor 0: toward 0) and only where active[i] != 0
// (has_active 0: everywhere), so a member that has stopped keeps its parameters and moments.
// Bytes per parameter: the above + penalty (4 B) + anchor (4 B) + active (1 B).
extern "C" __global__ void adam_update_members(float* __restrict__ p, const float* __restrict__ g,
                                               float* __restrict__ m, float* __restrict__ v,
                                               const float* __restrict__ penalty, int has_penalty,
                                               const float* __restrict__ anchor, int has_anchor,
                                               const unsigned char* __restrict__ active, int has_active,
                                               long long n, float lr, float beta1, float beta2, float eps,
                                               float bias1, float bias2)
{
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        if (has_active && !active[i]) continue;
        float pk = p[i];
        float gk = has_penalty ? g[i] + penalty[i] * (has_anchor ? pk - anchor[i] : pk) : g[i];
        float mk = beta1 * m[i] + (1.0f - beta1) * gk;
        float vk = beta2 * v[i] + (1.0f - beta2) * gk * gk;
        m[i] = mk;
        v[i] = vk;
        p[i] = pk - lr * (mk / bias1) / (sqrtf(vk / bias2) + eps);
    }
}
