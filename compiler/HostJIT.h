// The host CPU back end's last steps: the LLVM dialect lowering of convert-tile-to-host's loops,
// and loading the result with LLVM's JIT (ORC, through MLIR's ExecutionEngine).
#ifndef TESSERA_COMPILER_HOSTJIT_H
#define TESSERA_COMPILER_HOSTJIT_H

#include "compiler/Compiler.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"

namespace tessera::compiler {

// Loops over buffers (arith, math, scf, memref, func) -> the LLVM dialect. bf16 and f16
// arithmetic and math run in f32, rounded after each op as the GPU does.
void addHostLoweringPasses(mlir::PassManager &passes);

// JIT-compiles `module` (the LLVM dialect) for this CPU at -O2 and returns a program that runs
// its function `kernelName`, or null with *error set. `runtimeSymbols` resolves the functions
// the code calls; *optimizedIR receives the LLVM IR that was compiled.
std::unique_ptr<HostProgram> createHostProgram(mlir::ModuleOp module, const std::string &kernelName,
                                               const std::map<std::string, void *> &runtimeSymbols,
                                               std::string *optimizedIR, std::string *error);

} // namespace tessera::compiler

#endif
