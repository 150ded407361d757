// From the LLVM + NVVM dialects to LLVM IR (with libdevice linked in and LLVM's O3 run), PTX (the
// NVPTX backend) and a cubin (ptxas, when found).
#ifndef TESSERA_COMPILER_PTXEMITTER_H
#define TESSERA_COMPILER_PTXEMITTER_H

#include <cstdint>
#include <string>

namespace mlir {
class DialectRegistry;
class Operation;
} // namespace mlir

namespace tessera::compiler {

// The targets the emitter accepts, as a ", "-separated list for messages.
extern const char *const kSupportedTargets;
bool isSupportedTarget(const std::string &target);

// The most shared memory one CTA may use on `target` (the opt-in limit), in bytes. Inline, so
// that the runtime's op planning shares it without linking the compiler.
inline int64_t maxSharedBytesPerBlock(const std::string &target) {
  if (target == "sm_90" || target == "sm_90a")
    return 227 * 1024;
  if (target == "sm_80")
    return 163 * 1024;
  return 99 * 1024; // sm_86, sm_89
}

// The PTX ISA version the emitter asks NVPTX for (80 = PTX 8.0, CUDA 12.0 drivers and newer): the
// minimum that sm_90a needs, and enough for every Hopper feature LLVM's NVVM intrinsics gate on
// (wgmma, TMA, mbarrier expect_tx, setmaxnreg, elect.sync); used for every target so that PTX and
// the instructions it may use do not depend on the target's own minimum.
constexpr int kPTXVersion = 80;

// Registers the builtin, LLVM and NVVM dialect translations to LLVM IR in `registry`.
void registerPTXEmitterTranslations(mlir::DialectRegistry &registry);

struct PTXOutput {
  std::string llir; // the linked, optimised LLVM IR, as text
  std::string ptx;
};

// `module` is a builtin.module in the LLVM and NVVM dialects with at least one llvm.func carrying
// `nvvm.kernel`; it may call libdevice's `__nv_*` functions, declared external. Translates it to
// LLVM IR for `target` (sm_80, sm_86, sm_89, sm_90, sm_90a), links the libdevice functions it uses,
// internalises everything but the kernels, runs O3 and emits PTX. Registers the translations on
// the module's context if needed. Thread-safe (each call uses its own LLVMContext). On failure
// returns false and sets *error.
bool emitPTX(mlir::Operation *module, const std::string &target, PTXOutput *out,
             std::string *error);

// Emits PTX from LLVM IR text (a replaced "llir" stage). If it still calls undefined `__nv_*`
// functions, libdevice is linked and O3 runs first; otherwise the IR is compiled as given.
bool emitPTXFromLLVMIR(const std::string &llir, const std::string &target, PTXOutput *out,
                       std::string *error);

// The ptxas to use: $TESSERA_PTXAS, else $TESSERA_CUDA_ROOT/bin/ptxas, else the build's
// TESSERA_CUDA_ROOT/bin/ptxas, else `ptxas` on PATH; empty if none is found.
std::string findPtxas();

// Assembles `ptx` for `target` with `ptxas -arch=<target> -O3`. If no ptxas is found, returns true
// with *found = false and *cubin empty. If ptxas fails, returns false with its output in *error.
bool assembleCubin(const std::string &ptx, const std::string &target, std::string *cubin,
                   bool *found, std::string *error);

// The libdevice bitcode used: $TESSERA_LIBDEVICE, else the build's path, else under
// $TESSERA_CUDA_ROOT, $CUDA_HOME, $CUDA_PATH or /usr/local/cuda; empty if none exists.
std::string libdevicePath();

} // namespace tessera::compiler

#endif
