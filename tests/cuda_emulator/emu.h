// CUDA built-ins for running .cu kernels on the CPU (see emulator.py).
//
// Each CUDA thread is a fiber (ucontext); one block runs at a time, so __shared__ is a
// function-local static. threadIdx/blockIdx/blockDim/gridDim are globals the scheduler sets
// before resuming a fiber. __syncthreads and the warp shuffles suspend the calling fiber
// until every thread they involve has arrived, as on the GPU; what CUDA leaves undefined
// (a barrier only part of the block reaches, a shuffle naming an absent lane) is an error.
#pragma once
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct dim3 {
    unsigned int x, y, z;
};

extern dim3 threadIdx, blockIdx, blockDim, gridDim;
static const int warpSize = 32;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __shared__ static
#define __launch_bounds__(...)

void emu_syncthreads();
unsigned long long emu_shuffle(unsigned mask, unsigned long long bits, int mode, int arg, int width);
enum { EMU_SHFL_IDX = 0, EMU_SHFL_UP = 1, EMU_SHFL_DOWN = 2, EMU_SHFL_XOR = 3, EMU_SYNCWARP = 4 };

inline void __syncthreads() { emu_syncthreads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { emu_shuffle(mask, 0, EMU_SYNCWARP, 0, 32); }

template <class T> inline T emu_shfl(unsigned mask, T var, int mode, int arg, int width) {
    static_assert(sizeof(T) <= 8, "shuffle of a type wider than 8 bytes");
    unsigned long long bits = 0;
    memcpy(&bits, &var, sizeof(T));
    bits = emu_shuffle(mask, bits, mode, arg, width);
    T out;
    memcpy(&out, &bits, sizeof(T));
    return out;
}
template <class T> inline T __shfl_sync(unsigned m, T v, int src, int w = 32) { return emu_shfl(m, v, EMU_SHFL_IDX, src, w); }
template <class T> inline T __shfl_up_sync(unsigned m, T v, unsigned d, int w = 32) { return emu_shfl(m, v, EMU_SHFL_UP, (int)d, w); }
template <class T> inline T __shfl_down_sync(unsigned m, T v, unsigned d, int w = 32) { return emu_shfl(m, v, EMU_SHFL_DOWN, (int)d, w); }
template <class T> inline T __shfl_xor_sync(unsigned m, T v, int l, int w = 32) { return emu_shfl(m, v, EMU_SHFL_XOR, l, w); }

// One fiber runs at a time: atomics are plain read-modify-writes.
template <class T> inline T atomicAdd(T* p, T v) { T old = *p; *p = old + v; return old; }
template <class T> inline T atomicMax(T* p, T v) { T old = *p; *p = old > v ? old : v; return old; }
template <class T> inline T __ldg(const T* p) { return *p; }

inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
