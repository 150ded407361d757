// Hand-written PTX kernels for the tests, in the "tile IR" form the fake compiler understands:
// PTX whose leading comments give the kernel's metadata (see fake_compiler.cpp). PTX for sm_80 is
// JIT-compiled by the driver for any newer GPU.
#ifndef TESSERA_TEST_RUNTIME_TEST_KERNELS_H
#define TESSERA_TEST_RUNTIME_TEST_KERNELS_H

namespace tessera::test {

// add_one(float *data, int n): data[i] += 1 for i < n.
inline constexpr const char kAddOnePtx[] = R"(// name: add_one
// params: 2
// shared: 0
.version 7.0
.target sm_80
.address_size 64

.visible .entry add_one(
    .param .u64 p_data,
    .param .u32 p_n
)
{
    .reg .pred %p<2>;
    .reg .b32 %r<6>;
    .reg .f32 %f<3>;
    .reg .b64 %rd<5>;

    ld.param.u64 %rd1, [p_data];
    ld.param.u32 %r1, [p_n];
    mov.u32 %r2, %ctaid.x;
    mov.u32 %r3, %ntid.x;
    mov.u32 %r4, %tid.x;
    mad.lo.s32 %r5, %r2, %r3, %r4;
    setp.ge.s32 %p1, %r5, %r1;
    @%p1 bra DONE;
    cvta.to.global.u64 %rd2, %rd1;
    mul.wide.s32 %rd3, %r5, 4;
    add.s64 %rd4, %rd2, %rd3;
    ld.global.f32 %f1, [%rd4];
    add.f32 %f2, %f1, 0f3F800000;
    st.global.f32 [%rd4], %f2;
DONE:
    ret;
}
)";

// reverse_through_shared(float *data), one block of 128 threads with 100 KiB of dynamic shared
// memory: thread t stores data[t] into the last 128 floats of shared memory, and after a barrier
// writes back the value of thread 127 - t. Needs the >48 KiB opt-in to launch at all.
inline constexpr int kReverseSharedBytes = 100 * 1024;
inline constexpr const char kReverseThroughSharedPtx[] = R"(// name: reverse_through_shared
// params: 1
// shared: 102400
.version 7.0
.target sm_80
.address_size 64

.extern .shared .align 16 .b8 dynamic_smem[];

.visible .entry reverse_through_shared(
    .param .u64 p_data
)
{
    .reg .b32 %r<10>;
    .reg .f32 %f<2>;
    .reg .b64 %rd<5>;

    ld.param.u64 %rd1, [p_data];
    cvta.to.global.u64 %rd2, %rd1;
    mov.u32 %r1, %tid.x;
    mul.wide.u32 %rd3, %r1, 4;
    add.s64 %rd4, %rd2, %rd3;
    ld.global.f32 %f1, [%rd4];
    // &dynamic_smem[102400 - 512 + 4 * t]
    mov.u32 %r2, dynamic_smem;
    add.u32 %r3, %r2, 101888;
    shl.b32 %r4, %r1, 2;
    add.u32 %r5, %r3, %r4;
    st.shared.f32 [%r5], %f1;
    bar.sync 0;
    // &dynamic_smem[102400 - 512 + 4 * (127 - t)]
    mov.u32 %r6, 127;
    sub.u32 %r7, %r6, %r1;
    shl.b32 %r8, %r7, 2;
    add.u32 %r9, %r3, %r8;
    ld.shared.f32 %f1, [%r9];
    st.global.f32 [%rd4], %f1;
    ret;
}
)";

// Not PTX the JIT accepts: loading it must fail with the JIT's error log in the message.
inline constexpr const char kBrokenPtx[] = R"(// name: broken
// params: 0
// shared: 0
.version 7.0
.target sm_80
.address_size 64

.visible .entry broken()
{
    this_is_not_an_instruction %r1;
    ret;
}
)";

} // namespace tessera::test

#endif
