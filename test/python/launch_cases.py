"""The kernels and argument-binding cases shared by the launch bad-input sweeps of the host tier
(cpu/test_launch_bad_inputs.py: NumPy arrays) and the GPU tier (gpu/test_gpu_launch_bad_inputs.py:
CUDA tensors, which the C++ fast path hands to the Python launcher for calls it would reject).
Binding fails before any argument is classified, so both tiers expect the same TypeError."""
import tessera
import tessera.language as tl

BLOCK = 128


@tessera.jit
def copy_kernel(X, OUT, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(OUT + offs, tl.load(X + offs, mask=mask), mask=mask)


@tessera.jit
def store_kernel(OUT, value):
    tl.store(OUT, value)


# case: (a launch of copy_kernel over (x, out) with n = len(x), the TypeError's message)
BINDING = {
    "too-few": (lambda x, out: copy_kernel[(1,)](x, out, BLOCK=BLOCK),
                "missing 1 required positional argument: 'n'"),
    "too-many": (lambda x, out: copy_kernel[(1,)](x, out, len(x), BLOCK, 5),
                 "takes 4 positional arguments but 5"),
    "repeated": (lambda x, out: copy_kernel[(1,)](x, out, len(x), X=x, BLOCK=BLOCK),
                 "multiple values for argument 'X'"),
    "unknown-keyword": (lambda x, out: copy_kernel[(1,)](x, out, len(x), BLOCK=BLOCK, bogus=1),
                        "unexpected keyword argument 'bogus'"),
    "missing-constexpr": (lambda x, out: copy_kernel[(1,)](x, out, len(x)),
                          "missing 1 required positional argument: 'BLOCK'"),
    "missing-grid": (lambda x, out: copy_kernel.run(x, out, len(x), BLOCK=BLOCK),
                     "missing 1 required keyword-only argument: 'grid'"),
}
