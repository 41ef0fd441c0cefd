// The activations every kernel shares: one switch, the value returned and its slope (the
// derivative, kept for backward) stored. Numerically safe forms: softplus as
// max(z,0) + log1p(exp(-|z|)) and the sigmoid from exp(-|z|), neither of which overflows.
// Codes as in cpu_kernels.py: 0 none, 1 softplus, 2 relu, 3 tanh, 4 sigmoid.
#pragma once

#define ACT_NONE 0
#define ACT_SOFTPLUS 1
#define ACT_RELU 2
#define ACT_TANH 3
#define ACT_SIGMOID 4

// logistic(z) from e = exp(-|z|) <= 1 (stored in *e): no overflow for any z.
__device__ __forceinline__ float logistic(float z, float* e) {
    *e = expf(-fabsf(z));
    const float r = 1.0f / (1.0f + *e);
    return z >= 0.0f ? r : *e * r;
}

__device__ __forceinline__ float activate(int act, float z, float* slope) {
    switch (act) {
        case ACT_SOFTPLUS: {
            float e;
            *slope = logistic(z, &e);
            return fmaxf(z, 0.0f) + log1pf(e);
        }
        case ACT_RELU:
            *slope = z > 0.0f ? 1.0f : 0.0f;
            return fmaxf(z, 0.0f);
        case ACT_TANH: {
            const float t = tanhf(z);
            *slope = 1.0f - t * t;
            return t;
        }
        case ACT_SIGMOID: {
            float e;
            const float s = logistic(z, &e);
            *slope = s * (1.0f - s);
            return s;
        }
        default:
            *slope = 1.0f;
            return z;
    }
}
