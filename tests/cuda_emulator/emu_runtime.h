// The emulator's scheduler: runs a grid block by block, every thread of a block as a fiber.
// Included after the kernel source; exports emu_launch (called from Python through ctypes).
#pragma once
#include <setjmp.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

dim3 threadIdx, blockIdx, blockDim, gridDim;

#if defined(__x86_64__) && !defined(EMU_USE_UCONTEXT)
// A fiber switch without ucontext's signal-mask system call (the emulator switches fibers
// millions of times): save the callee-saved registers on the old stack, swap stack pointers.
extern "C" void emu_switch(void** save_sp, void* to_sp);
asm(R"(
    .text
    .p2align 4
    .type emu_switch, @function
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_switch, .-emu_switch
)");
#define EMU_FAST_SWITCH 1
#endif

namespace emu {

enum State { RUNNABLE, AT_BARRIER, AT_WARP, DONE };

struct Fiber {
    ucontext_t ctx;
    void* sp;
    char* stack;
    State state;
    dim3 tid;
    unsigned mask;
    int mode, arg, width;
    unsigned long long in, out;
};

static const size_t STACK_BYTES = 128 * 1024;
static size_t page_bytes;
static Fiber* fibers = nullptr;
static int n_fibers_alloc = 0;
__attribute__((unused)) static ucontext_t main_ctx;
__attribute__((unused)) static void* main_sp;
static int current = -1;
static int n_threads = 0;
static void (*kernel_entry)(void**) = nullptr;
static void** kernel_params = nullptr;
static bool failed = false;
static char message[1024];
static sigjmp_buf fault_jmp;
static void* volatile fault_addr = nullptr;
static char alt_stack[64 * 1024];

static void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char* fmt, ...) {
    if (failed) return;
    failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
}

static void suspend() {
#ifdef EMU_FAST_SWITCH
    emu_switch(&fibers[current].sp, main_sp);
#else
    swapcontext(&fibers[current].ctx, &main_ctx);
#endif
}

static void resume(int t) {
#ifdef EMU_FAST_SWITCH
    emu_switch(&main_sp, fibers[t].sp);
#else
    swapcontext(&main_ctx, &fibers[t].ctx);
#endif
}

static void trampoline() {
    kernel_entry(kernel_params);
    fibers[current].state = DONE;
    suspend();  // never resumed
}

static void ensure_fibers(int n) {
    if (n <= n_fibers_alloc) return;
    page_bytes = (size_t)sysconf(_SC_PAGESIZE);
    Fiber* f = (Fiber*)calloc((size_t)n, sizeof(Fiber));
    for (int i = 0; i < n_fibers_alloc; ++i) f[i] = fibers[i];
    for (int i = n_fibers_alloc; i < n; ++i) {
        // A guard page below each stack: an overflow faults instead of corrupting a neighbour.
        char* s = (char*)mmap(nullptr, STACK_BYTES + page_bytes, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        mprotect(s, page_bytes, PROT_NONE);
        f[i].stack = s + page_bytes;
    }
    free(fibers);
    fibers = f;
    n_fibers_alloc = n;
}

static void on_fault(int, siginfo_t* info, void*) {
    fault_addr = info->si_addr;
    siglongjmp(fault_jmp, 1);
}

static int lane_of(int t) { return t & 31; }

// Resolve the warp operations of warp w once no fiber can run; returns whether any lane moved.
static bool resolve_warp(int w) {
    const int first = w * 32, present = (n_threads - first) < 32 ? (n_threads - first) : 32;
    bool any = false;
    for (int l = 0; l < present; ++l)
        if (fibers[first + l].state == AT_WARP) any = true;
    if (!any) return false;
    for (int l = 0; l < present; ++l) {
        Fiber& f = fibers[first + l];
        if (f.state != AT_WARP) continue;
        for (int b = 0; b < 32; ++b) {
            if (!(f.mask >> b & 1u)) continue;
            if (b >= present) {
                fail("warp operation with mask 0x%08x in thread %d names lane %d, but warp %d has only %d threads",
                     f.mask, first + l, b, w, present);
                return false;
            }
            Fiber& g = fibers[first + b];
            if (g.state == DONE) {
                fail("warp operation with mask 0x%08x in thread %d names lane %d, which has already exited",
                     f.mask, first + l, b);
                return false;
            }
            if (g.state == AT_BARRIER) {
                fail("thread %d waits in a warp operation for lane %d, which waits at __syncthreads: deadlock",
                     first + l, b);
                return false;
            }
            if (g.mask != f.mask || (g.mode == EMU_SYNCWARP) != (f.mode == EMU_SYNCWARP)) {
                fail("lanes %d and %d of warp %d meet in different warp operations (masks 0x%08x and 0x%08x)",
                     l, b, w, f.mask, g.mask);
                return false;
            }
        }
    }
    for (int l = 0; l < present; ++l) {
        Fiber& f = fibers[first + l];
        if (f.state != AT_WARP) continue;
        if (f.mode != EMU_SYNCWARP) {
            const int width = f.width, base = l / width * width;
            int src = l;
            switch (f.mode) {
                case EMU_SHFL_IDX: src = base + ((f.arg % width) + width) % width; break;
                case EMU_SHFL_UP: src = l - f.arg >= base ? l - f.arg : l; break;
                case EMU_SHFL_DOWN: src = l + f.arg < base + width ? l + f.arg : l; break;
                case EMU_SHFL_XOR: src = (l ^ f.arg) < base + width ? (l ^ f.arg) : l; break;
            }
            if (src >= present || !(f.mask >> src & 1u)) {
                fail("shuffle in thread %d reads lane %d, which is not in its mask 0x%08x", first + l, src, f.mask);
                return false;
            }
            f.out = fibers[first + src].in;
        }
    }
    for (int l = 0; l < present; ++l)
        if (fibers[first + l].state == AT_WARP) fibers[first + l].state = RUNNABLE;
    return true;
}

static void run_block(bool reverse_threads) {
    for (int i = 0; i < n_threads; ++i) {
        Fiber& f = fibers[i];
#ifdef EMU_FAST_SWITCH
        // A fresh stack as emu_switch leaves one: six saved registers, then the return address
        // (the trampoline), placed so the trampoline starts with the ABI's stack alignment.
        void** top = (void**)(f.stack + STACK_BYTES);
        top[-1] = nullptr;
        top[-2] = (void*)trampoline;
        for (int r = 3; r <= 8; ++r) top[-r] = nullptr;
        f.sp = (void*)(top - 8);
#else
        getcontext(&f.ctx);
        f.ctx.uc_stack.ss_sp = f.stack;
        f.ctx.uc_stack.ss_size = STACK_BYTES;
        f.ctx.uc_link = nullptr;
        makecontext(&f.ctx, trampoline, 0);
#endif
        f.state = RUNNABLE;
        f.tid.x = i % blockDim.x;
        f.tid.y = i / blockDim.x % blockDim.y;
        f.tid.z = i / (blockDim.x * blockDim.y);
    }
    for (;;) {
        for (int k = 0; k < n_threads; ++k) {
            const int t = reverse_threads ? n_threads - 1 - k : k;
            if (fibers[t].state != RUNNABLE) continue;
            current = t;
            threadIdx = fibers[t].tid;
            resume(t);
            if (failed) return;
        }
        int done = 0, barrier = 0;
        for (int t = 0; t < n_threads; ++t) {
            done += fibers[t].state == DONE;
            barrier += fibers[t].state == AT_BARRIER;
        }
        if (done == n_threads) return;
        bool moved = false;
        for (int w = 0; w * 32 < n_threads; ++w) {
            moved |= resolve_warp(w);
            if (failed) return;
        }
        if (moved) continue;
        if (barrier + done == n_threads) {
            if (done) {
                fail("__syncthreads reached by %d of the block's %d threads; the other %d had exited", barrier,
                     n_threads, done);
                return;
            }
            for (int t = 0; t < n_threads; ++t) fibers[t].state = RUNNABLE;
            continue;
        }
        fail("deadlock: %d threads wait at __syncthreads while others wait in warp operations", barrier);
        return;
    }
}

}  // namespace emu

void emu_syncthreads() {
    emu::fibers[emu::current].state = emu::AT_BARRIER;
    emu::suspend();
}

unsigned long long emu_shuffle(unsigned mask, unsigned long long bits, int mode, int arg, int width) {
    emu::Fiber& f = emu::fibers[emu::current];
    const int lane = emu::lane_of(emu::current);
    if (!(mask >> lane & 1u)) {
        emu::fail("thread %d calls a warp operation with mask 0x%08x that does not name its own lane %d",
                  emu::current, mask, lane);
        emu::suspend();
    }
    if (width < 1 || width > 32 || (width & (width - 1))) {
        emu::fail("thread %d: shuffle width %d is not a power of two in 1..32", emu::current, width);
        emu::suspend();
    }
    f.mask = mask;
    f.mode = mode;
    f.arg = arg;
    f.width = width;
    f.in = bits;
    f.state = emu::AT_WARP;
    emu::suspend();
    return f.out;
}

// Run entry(params) over the grid, blocks in the order given (linear block ids), threads
// forwards or backwards. Returns 0, or 1 with a message (undefined behaviour found), or 2
// on an invalid memory access (its address in *fault).
extern "C" int emu_launch(void (*entry)(void**), void** params, unsigned gx, unsigned gy, unsigned gz,
                          unsigned bx, unsigned by, unsigned bz, const long long* block_order,
                          long long n_blocks, int reverse_threads, char* err, int err_len, void** fault) {
    using namespace emu;
    failed = false;
    message[0] = 0;
    kernel_entry = entry;
    kernel_params = params;
    gridDim = {gx, gy, gz};
    blockDim = {bx, by, bz};
    n_threads = (int)(bx * by * bz);
    ensure_fibers(n_threads);

    stack_t alt = {}, old_alt;
    alt.ss_sp = alt_stack;
    alt.ss_size = sizeof(alt_stack);
    sigaltstack(&alt, &old_alt);
    struct sigaction sa = {}, old_segv, old_bus;
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    int rc = 0;
    if (sigsetjmp(fault_jmp, 1)) {
        rc = 2;
        *fault = fault_addr;
        snprintf(err, (size_t)err_len, "block (%u, %u, %u) thread (%u, %u, %u)", blockIdx.x, blockIdx.y,
                 blockIdx.z, threadIdx.x, threadIdx.y, threadIdx.z);
    } else {
        for (long long i = 0; i < n_blocks && !failed; ++i) {
            const long long b = block_order[i];
            blockIdx = {(unsigned)(b % gx), (unsigned)(b / gx % gy), (unsigned)(b / ((long long)gx * gy))};
            run_block(reverse_threads != 0);
        }
        if (failed) {
            rc = 1;
            snprintf(err, (size_t)err_len, "block (%u, %u, %u): %s", blockIdx.x, blockIdx.y, blockIdx.z, message);
        }
    }
    sigaction(SIGSEGV, &old_segv, nullptr);
    sigaction(SIGBUS, &old_bus, nullptr);
    sigaltstack(&old_alt, nullptr);
    return rc;
}
